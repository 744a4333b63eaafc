"""av_offset_frames and av_confidence: SyncNet's offset and confidence, on weight-free features.

SyncNet (Chung & Zisserman 2016, "Out of time: automated lip sync in the wild") compares, for each video frame t,
a visual feature v[t] with the audio feature a[t + k] for shifts k = -15..15 frames, averages the distance over t
for each k, and reports
    offset = -argmin_k D(k)        (syncnet_python's `vshift - minidx`), confidence = median_k D(k) - min_k D(k).
Here the visual feature is the mouth opening (`eval.metrics.mouth`) and the audio feature the RMS envelope of the
speech at the video frame rate (one-frame windows centred on the frame times, `eval.speech.rms_envelope`). For
each shift k both signals are restricted to the overlapping frames where the face was tracked, z-normalised, and
D(k) = 1 - Pearson correlation (0 = identical up to gain, 1 = unrelated, 2 = opposite).
Sign: offset > 0 means the sound comes *before* the matching mouth movement (audio leads) by that many frames;
offset < 0 means the audio lags. Real speech gives 0 or -1 (the mouth opens slightly before the sound).
Confidence is in units of (1 - correlation), not SyncNet's embedding distances: compare it only within this suite;
higher means a clearer sync peak. Both are null when fewer than `MIN_FRAMES` tracked frames overlap, or when the
mouth or the audio does not vary (a still face has no defined correlation).
"""

from __future__ import annotations

import numpy as np

from eval.metrics import Score

MAX_SHIFT = 15
MIN_FRAMES = 20


def shift_distances(visual: np.ndarray, audio: np.ndarray, max_shift: int = MAX_SHIFT) -> np.ndarray:
    """D(k) for k = -max_shift..max_shift, float64 [2 max_shift + 1]: 1 - corr(visual[t], audio[t + k]) over the
    frames t where both exist and visual is finite; NaN where fewer than MIN_FRAMES overlap or a side is constant."""
    v = np.asarray(visual, np.float64)
    a = np.asarray(audio, np.float64)
    out = np.full(2 * max_shift + 1, np.nan)
    for j, k in enumerate(range(-max_shift, max_shift + 1)):
        t = np.arange(max(0, -k), min(len(v), len(a) - k))
        if len(t) == 0:
            continue
        x, y = v[t], a[t + k]
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        if len(x) < MIN_FRAMES or x.std() < 1e-9 or y.std() < 1e-12:
            continue
        x = (x - x.mean()) / x.std()
        y = (y - y.mean()) / y.std()
        out[j] = 1.0 - float(np.mean(x * y))
    return out


def av_sync(mouth: np.ndarray, envelope: np.ndarray, max_shift: int = MAX_SHIFT) -> tuple[Score, Score]:
    """(av_offset_frames, av_confidence) of mouth [T] (NaN untracked) against the audio envelope [T'] (same fps)."""
    d = shift_distances(mouth, envelope, max_shift)
    if not np.isfinite(d).any():
        finite = np.asarray(mouth)[np.isfinite(mouth)]
        if len(finite) >= MIN_FRAMES and finite.std() < 1e-9:
            reason = "the mouth does not move (correlation undefined)"
        elif np.asarray(envelope).std() < 1e-12:
            reason = "the audio is constant"
        else:
            reason = f"fewer than {MIN_FRAMES} tracked frames"
        return Score.null(reason), Score.null(reason)
    j = int(np.nanargmin(d))
    offset = -(j - max_shift)
    confidence = float(np.nanmedian(d) - d[j])
    return Score.of(offset), Score.of(confidence)
