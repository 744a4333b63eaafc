"""psnr: peak signal-to-noise ratio of face crops against the ground-truth video.

Definition: PSNR = 10 log10(1 / MSE), with MSE the mean squared difference of RGB values in [0, 1] pooled over all
compared crops of the video (so one number per video; `eval.metrics.crops` makes the crops). Identical videos give
MSE = 0 and PSNR = +inf (stored as JSON null with the reason "infinite"; shown as "inf" in the report).
Source: the standard definition (e.g. Wang et al. 2004, section I), computed by
`torchmetrics.functional.image.peak_signal_noise_ratio` (data_range 1, mean over all values). Higher is better.
"""

from __future__ import annotations

import numpy as np

from eval.metrics import Score


def psnr(a: np.ndarray, b: np.ndarray) -> Score:
    """PSNR in dB of image batches a, b: float [N, H, W, 3] in [0, 1]; +inf when identical, null when empty."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.size == 0:
        return Score.null("no frames to compare")
    if np.array_equal(a, b):
        return Score(float("inf"), "infinite (identical frames)")
    import torch
    from torchmetrics.functional.image import peak_signal_noise_ratio

    return Score.of(float(peak_signal_noise_ratio(torch.from_numpy(a), torch.from_numpy(b), data_range=1.0)))
