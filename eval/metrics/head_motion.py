"""head_motion_dynamics: how lively the head moves, as seen by the tracker.

Definition: the head rotation R_t of each tracked frame relative to the first tracked frame is the rotation of
the similarity Procrustes fit (Umeyama 1991) of the rigid landmarks `eval.tracking.RIGID` (3D: x, y pixels and
MediaPipe's relative depth z) of frame 0 onto frame t. The rotation speed between consecutive tracked frames is
w_t = angle(R_{t+1} R_t^T) * fps (degrees per second); head_motion_dynamics = standard deviation of w over the
video. A still head gives ~0 (tracker noise). Source: THEval (2026) found head-motion dynamics among the few
measures that track human preference; this scalar is this suite's definition. Neither direction is better: closer
to the real video is better (GRID speakers are almost still; lively conversation is higher).
"""

from __future__ import annotations

import numpy as np

from eval.metrics import Score
from eval.tracking import RIGID, Track, procrustes


def head_rotations(track: Track) -> np.ndarray:
    """float64 [T, 3, 3] rotation of the head relative to the first tracked frame (NaN where untracked)."""
    out = np.full((track.num_frames, 3, 3), np.nan)
    idx = np.flatnonzero(track.found)
    if len(idx) == 0:
        return out
    ref = track.landmarks[idx[0]][list(RIGID)]
    for t in idx:
        _, R, _ = procrustes(ref, track.landmarks[t][list(RIGID)])
        out[t] = R
    return out


def head_motion_dynamics(track: Track) -> Score:
    """Std of the head's rotation speed in degrees per second (see the module docstring)."""
    R = head_rotations(track)
    speeds = []
    for t in range(track.num_frames - 1):
        if track.found[t] and track.found[t + 1]:
            rel = R[t + 1] @ R[t].T
            cos = np.clip((np.trace(rel) - 1.0) / 2.0, -1.0, 1.0)
            speeds.append(np.degrees(np.arccos(cos)) * track.fps)
    if len(speeds) < 2:
        return Score.null("fewer than 3 consecutive tracked frames")
    return Score.of(np.std(speeds))
