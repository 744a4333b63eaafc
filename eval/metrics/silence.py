"""silence_lip_motion: do the lips keep still while nobody speaks?

Definition: silent stretches of at least 0.5 s come from the audio (`eval.speech.silent_spans`: 30 ms windows more
than 35 dB below the clip's 95th-percentile level). Over consecutive frame pairs (t, t+1) that both lie within
one such stretch and are both tracked, silence_lip_motion = mean |mouth_open[t+1] - mouth_open[t]| * fps, in face
heights per second (`eval.metrics.mouth`). Source: THEval (2026) scores lip stability during silence; this is
this suite's definition. Lower is better (a real speaker at rest shows tracker noise of about 0.005-0.02).
"""

from __future__ import annotations

import numpy as np

from eval.metrics import Score
from eval.metrics.mouth import frames_in


def silence_lip_motion(mouth: np.ndarray, fps: float, silences: list[tuple[float, float]]) -> Score:
    """Mean |d mouth_open / dt| during silences; mouth float [T] (NaN untracked), silences [(start_s, end_s)]."""
    if not silences:
        return Score.null("no silence of 0.5 s or more in the audio")
    diffs = []
    for a, b in silences:
        idx = frames_in(a, b, fps, len(mouth))
        if len(idx) < 2:
            continue
        d = np.abs(np.diff(mouth[idx])) * fps
        diffs.append(d[np.isfinite(d)])
    vals = np.concatenate(diffs) if diffs else np.zeros(0)
    if len(vals) == 0:
        return Score.null("no tracked frames within the silences")
    return Score.of(vals.mean())
