"""wobble: jitter of the skull's landmarks once head pose is removed.

Definition: take the tracker's 3D landmarks (x, y pixels, z MediaPipe relative depth in x's scale) of the rigid
set `eval.tracking.RIGID` (eye corners, nose bridge and ridge, forehead midline, face sides; 17 points). For each
tracked frame t, align its rigid points P_t to those of the first tracked frame P_0 with a similarity Procrustes
fit (Umeyama 1991): Q_t = s R P_t + c; the residual r_t = Q_t - P_0 [17, 3] is what head motion cannot explain
(non-rigid swimming of the surface, tracker noise). With IOD the interocular distance (landmarks 33-263, image
plane) of the first tracked frame,
    wobble = mean over t, points i of || r_{t+1,i} - 2 r_{t,i} + r_{t-1,i} ||^2 / IOD^2,
over all t whose three frames are tracked; unit (IOD / frame^2)^2. A still video gives about 0 (tracker noise
only); jitter raises it. Source: this suite's definition after DESIGN.md ("second-difference energy of
pose-compensated rigid landmarks over interocular distance"); wobble-free heads are GaussianHeadTalk's stated
aim. Lower is better; compare with a still photo's value (the tracker's noise floor, about 1e-6) and the real
video's.
"""

from __future__ import annotations

import numpy as np

from eval.metrics import Score
from eval.tracking import RIGID, Track, interocular, procrustes


def rigid_residuals(track: Track) -> tuple[np.ndarray, float] | None:
    """(residuals float64 [T, 17, 3] (NaN for untracked frames), IOD of the first tracked frame) or None if no
    frame is tracked."""
    idx = np.flatnonzero(track.found)
    if len(idx) == 0:
        return None
    ref = track.landmarks[idx[0]][list(RIGID)].astype(np.float64)
    out = np.full((track.num_frames, len(RIGID), 3), np.nan)
    for t in idx:
        p = track.landmarks[t][list(RIGID)].astype(np.float64)
        s, R, c = procrustes(p, ref)
        out[t] = (s * p @ R.T + c) - ref
    return out, float(interocular(track.landmarks[idx[0]]))


def wobble(track: Track) -> Score:
    """Second-difference energy of pose-compensated rigid landmarks / IOD^2 (see the module docstring)."""
    res = rigid_residuals(track)
    if res is None:
        return Score.null("no face tracked")
    r, iod = res
    d2 = r[2:] - 2 * r[1:-1] + r[:-2]
    ok = np.isfinite(d2).all(axis=(1, 2))
    if not ok.any() or iod <= 0:
        return Score.null("fewer than 3 consecutive tracked frames")
    return Score.of(float(np.mean(np.sum(d2[ok] ** 2, axis=2))) / iod ** 2)
