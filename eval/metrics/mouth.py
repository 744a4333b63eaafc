"""The mouth-opening signal that the lip-sync metrics share.

mouth_open[t] = |p13 - p14| / |p10 - p152| in the image plane: the distance between the inner upper and inner
lower lip midpoints (MediaPipe Face Mesh landmarks 13, 14) divided by the face height (forehead 10 to chin 152),
so it does not depend on resolution or distance to the camera. Closed lips read about 0.000-0.004 on real
video (GRID), open vowels 0.02-0.06.
"""

from __future__ import annotations

import numpy as np

from eval.tracking import CHIN, FOREHEAD, INNER_LIP_LOWER, INNER_LIP_UPPER, Track


def mouth_open(track: Track) -> np.ndarray:
    """float64 [T] mouth opening per frame (NaN where no face was tracked)."""
    lm = track.landmarks.astype(np.float64)
    gap = np.linalg.norm(lm[:, INNER_LIP_UPPER, :2] - lm[:, INNER_LIP_LOWER, :2], axis=1)
    height = np.linalg.norm(lm[:, FOREHEAD, :2] - lm[:, CHIN, :2], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(height > 0, gap / height, np.nan)


def frames_in(start_s: float, end_s: float, fps: float, num_frames: int) -> np.ndarray:
    """int [k] indices of the frames shown within [start_s, end_s] (frame t at t / fps); at least the nearest frame
    when the span is shorter than a frame, empty when it lies past the video's end."""
    a = int(np.ceil(start_s * fps - 1e-9))
    b = int(np.floor(end_s * fps + 1e-9))
    if b < a:
        a = b = int(round(0.5 * (start_s + end_s) * fps))
    a, b = max(a, 0), min(b, num_frames - 1)
    return np.arange(a, b + 1) if b >= a else np.zeros(0, int)
