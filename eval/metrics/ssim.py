"""ssim: structural similarity of face crops against the ground-truth video.

Definition (Wang, Bovik, Sheikh & Simoncelli 2004, "Image quality assessment: from error visibility to structural
similarity", eq. 13): local means, variances and covariance under an 11x11 Gaussian window (sigma 1.5), constants
C1 = (0.01 L)^2, C2 = (0.03 L)^2 with L = 1;
    SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
averaged over the window positions and over the R, G, B channels, then over the crops of the video. Computed by
`torchmetrics.functional.image.structural_similarity_index_measure` (torchmetrics 1.9, which imports and runs
without torchvision: FACTS.md); agrees with scikit-image's `structural_similarity` (gaussian_weights=True) to 1e-3.
1 for identical images; higher is better.
"""

from __future__ import annotations

import numpy as np

from eval.metrics import Score

WINDOW = 11
SIGMA = 1.5


def ssim_per_image(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SSIM of image batches a, b: float [N, H, W, 3] in [0, 1], H, W >= 11 -> float64 [N]."""
    import torch
    from torchmetrics.functional.image import structural_similarity_index_measure

    x = torch.from_numpy(np.ascontiguousarray(a, np.float32)).permute(0, 3, 1, 2)
    y = torch.from_numpy(np.ascontiguousarray(b, np.float32)).permute(0, 3, 1, 2)
    s = structural_similarity_index_measure(x, y, gaussian_kernel=True, sigma=SIGMA, kernel_size=WINDOW,
                                            data_range=1.0, reduction="none")
    return s.double().numpy()


def ssim(a: np.ndarray, b: np.ndarray) -> Score:
    """Mean SSIM over the crops; null when there are none."""
    if len(a) == 0:
        return Score.null("no frames to compare")
    return Score.of(float(np.mean(ssim_per_image(a, b))))
