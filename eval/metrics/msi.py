"""msi: motion stability index, the reciprocal of the variance of landmark acceleration.

Definition (FACTS.md, after the THEval talking-head benchmark, 2026: "reciprocal of the variance of landmark
acceleration"): with all 468 face-mesh landmarks in the image plane (x, y) divided by the interocular distance of
the first tracked frame, the acceleration is the second difference a_t = p_{t+1} - 2 p_t + p_{t-1} (per frame^2)
over the frames whose three neighbours are tracked; msi = 1 / Var(a) with the variance over all t, landmarks and
both coordinates. Head motion counts here (unlike wobble): smooth motion scores high, jerky or jittery motion low.
A perfectly still track gives +inf (JSON null, reason "infinite"). Higher is better; read it against the real
video. Unit: (frame^2 / IOD)^2.
"""

from __future__ import annotations

import numpy as np

from eval.metrics import Score
from eval.tracking import Track, interocular


def msi(track: Track) -> Score:
    """1 / variance of normalised landmark acceleration (see the module docstring)."""
    idx = np.flatnonzero(track.found)
    if len(idx) == 0:
        return Score.null("no face tracked")
    iod = float(interocular(track.landmarks[idx[0]]))
    p = track.landmarks[:, :468, :2].astype(np.float64) / iod
    a = p[2:] - 2 * p[1:-1] + p[:-2]
    ok = np.isfinite(a).all(axis=(1, 2))
    if not ok.any():
        return Score.null("fewer than 3 consecutive tracked frames")
    var = float(np.var(a[ok]))
    if var == 0.0:
        return Score(float("inf"), "infinite (landmarks never accelerate)")
    return Score.of(1.0 / var)
