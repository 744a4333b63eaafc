"""Foreground colours at the person mask's edge: the photo's edge pixels mix the person with the background, and a
Gaussian that keeps the mixed colour carries a pale (or dark) fringe of the old background along with the head when
it moves. Each edge pixel is unmixed against the background plate with the compositing equation
I = alpha * F + (1 - alpha) * B (Porter & Duff 1984), F taken from the nearest confidently-person pixel: alpha is
the projection of I - B on F - B (as in closed-form and Bayesian matting with known F and B), raised to the mask's
opacity where that is higher (an edge Gaussian never becomes more transparent: a turned head shows no cracks), and
the Gaussian keeps that alpha as its opacity and the unmixed colour (I - (1 - alpha) B) / alpha, so the photo's own
view is unchanged (where alpha is small or was raised, the unmixed colour would keep background, and F is used).
"""

from __future__ import annotations

import numpy as np

EDGE_MASK = 0.98        # person probability below which a pixel is an edge pixel (hair fringe, shoulders)
CORE_MASK = 0.95        # the foreground colour comes from the nearest pixel at least this sure
MIN_SEPARATION = 0.08   # RGB distance between that colour and the plate below which alpha cannot be told
MIN_ALPHA = 0.5         # below this alpha the unmixed colour is unstable: the nearest foreground colour is used
RAISED_BY = 0.05        # ... as where the mask raised alpha by more than this (the unmixed colour would keep part
                        # of the background: a pale or dark outline over the hair once the head turns)


def unmix_edges(image: np.ndarray, mask: np.ndarray, plate: np.ndarray, yy: np.ndarray, xx: np.ndarray,
                colors: np.ndarray, opacities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(colors float32 [N, 3], opacities float32 [N]) of the Gaussians of pixels (yy, xx) [N] with their photo
    colours `colors` [N, 3] and `opacities` [N], unmixed where the pixel is on the person mask's edge.

    Args:
        image: float32 [S, S, 3] the photo crop; mask: float32 [S, S] person probability; plate: float32 [S, S, 3]
        the background plate (the photo with the person inpainted away).
    """
    import scipy.ndimage as ndi

    core = mask >= CORE_MASK
    edge = np.flatnonzero(mask[yy, xx] < EDGE_MASK)
    if not core.any() or len(edge) == 0:
        return colors, opacities
    _, (iy, ix) = ndi.distance_transform_edt(~core, return_indices=True)
    y, x = yy[edge], xx[edge]
    I, B, F = colors[edge], plate[y, x], image[iy[y, x], ix[y, x]]
    d = F - B
    sep = (d * d).sum(axis=1)
    alpha = np.clip(((I - B) * d).sum(axis=1) / np.maximum(sep, 1e-9), 0.0, 1.0)
    known = sep > MIN_SEPARATION ** 2
    raised = ~known | (opacities[edge] > alpha + RAISED_BY)
    alpha = np.where(known, np.maximum(alpha, opacities[edge]), opacities[edge])
    unmixed = np.clip((I - (1 - alpha[:, None]) * B) / np.maximum(alpha, MIN_ALPHA)[:, None], 0.0, 1.0)
    colors, opacities = colors.copy(), opacities.copy()
    colors[edge] = np.where(((alpha >= MIN_ALPHA) & ~raised)[:, None], unmixed, F)
    opacities[edge] = alpha
    return colors.astype(np.float32), opacities.astype(np.float32)


BACKGROUND_BAND = 0.03  # share of the crop from the mask's outer edge where background-coloured pixels are sought


def background_like_edges(image: np.ndarray, mask: np.ndarray, plate: np.ndarray, yy: np.ndarray,
                          xx: np.ndarray, colors: np.ndarray) -> np.ndarray:
    """bool [N]: which of the Gaussians of pixels (yy, xx) [N] with colours `colors` [N, 3] are background the
    person mask took in: within `BACKGROUND_BAND` of the crop from the mask's outer edge and nearer in colour to
    the background plate there than to the nearest pixel deeper inside the mask than that band. Dropped, they leave
    the photo's view as it was (the plate there shows the same background) and a turned head shows no pale or dark
    outline of the old background round its hair.

    Args: image, plate: float32 [S, S, 3]; mask: float32 [S, S] person probability (as `unmix_edges`).
    """
    import scipy.ndimage as ndi

    band = BACKGROUND_BAND * mask.shape[0]
    inside = ndi.distance_transform_edt(mask >= 0.5)               # pixels from the mask's outer edge
    deep = inside >= band
    if not deep.any():
        return np.zeros(len(yy), bool)
    _, (iy, ix) = ndi.distance_transform_edt(~deep, return_indices=True)
    near_edge = inside[yy, xx] < band
    F = image[iy[yy, xx], ix[yy, xx]]
    B = plate[yy, xx]
    return near_edge & (((colors - B) ** 2).sum(1) < ((colors - F) ** 2).sum(1))
