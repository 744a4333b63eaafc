"""ssim: structural similarity of face crops against the ground-truth video.

Definition (Wang, Bovik, Sheikh & Simoncelli 2004, "Image quality assessment: from error visibility to structural
similarity", eq. 13): local means, variances and covariance under an 11x11 Gaussian window (sigma 1.5), constants
C1 = (0.01 L)^2, C2 = (0.03 L)^2 with L = 1;
    SSIM(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2)),
averaged over the valid window positions (no padding) and over the R, G, B channels, then over the crops of the
video. Implemented in PyTorch (float32, separable window; torchmetrics is not installed here and would pull
torchvision); agrees with scikit-image's `structural_similarity` (gaussian_weights=True) to 1e-4. 1 for identical
images; higher is better.
"""

from __future__ import annotations

import numpy as np

from eval.metrics import Score

WINDOW = 11
SIGMA = 1.5


def ssim_per_image(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SSIM of image batches a, b: float [N, H, W, 3] in [0, 1], H, W >= 11 -> float64 [N]."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(np.ascontiguousarray(a, np.float32)).permute(0, 3, 1, 2)
    y = torch.from_numpy(np.ascontiguousarray(b, np.float32)).permute(0, 3, 1, 2)
    r = torch.arange(WINDOW, dtype=torch.float64) - (WINDOW - 1) / 2
    g = torch.exp(-r ** 2 / (2 * SIGMA ** 2))
    g = (g / g.sum()).float()
    gx = g.view(1, 1, 1, WINDOW).expand(3, 1, 1, WINDOW).contiguous()
    gy = g.view(1, 1, WINDOW, 1).expand(3, 1, WINDOW, 1).contiguous()

    def blur(z):     # the separable 11x11 Gaussian, valid positions only
        return F.conv2d(F.conv2d(z, gx, groups=3), gy, groups=3)

    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx ** 2
    syy = blur(y * y) - my ** 2
    sxy = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (sxx + syy + c2))
    return s.mean(dim=(1, 2, 3)).numpy()


def ssim(a: np.ndarray, b: np.ndarray) -> Score:
    """Mean SSIM over the crops; null when there are none."""
    if len(a) == 0:
        return Score.null("no frames to compare")
    return Score.of(float(np.mean(ssim_per_image(a, b))))
