"""av_offset_frames and av_confidence: SyncNet's offset and confidence, on weight-free features.

SyncNet (Chung & Zisserman 2016, "Out of time: automated lip sync in the wild") compares, for each video frame t,
a visual feature v[t] with the audio feature a[t + k] for shifts k = -15..15 frames, averages the distance over t
for each k, and reports
    offset = -argmin_k D(k)        (syncnet_python's `vshift - minidx`), confidence = median_k D(k) - min_k D(k).
Here the features are weight-free: the visual feature is the rate of change of the mouth opening
(`eval.metrics.mouth`, Gaussian-smoothed with sigma = 1 frame, then the central difference), the audio feature
the rate of change of the speech level (RMS over one-frame windows centred on the frame times,
`eval.speech.rms_envelope`, in dB re the clip's maximum floored at -40 dB, smoothed and differenced the same way):
mouth openings and closings line up with acoustic onsets and offsets, while the raw opening and loudness do not
(close vowels are loud with a nearly closed mouth, and speakers open the mouth before speaking). On the GRID
clips this gives offsets of 0 or -1 frame for the real video and recovers an artificial 5-frame shift, where the
raw signals did not. For each shift k both features are restricted to the overlapping frames where the face was
tracked, z-normalised, and D(k) = 1 - Pearson correlation (0 = identical up to gain, 1 = unrelated, 2 = opposite).
Sign: offset > 0 means the sound comes *before* the matching mouth movement (audio leads) by that many frames;
offset < 0 means the audio lags. Real speech gives 0 or -1 (the mouth opens slightly before the sound).
Confidence is in units of (1 - correlation), not SyncNet's embedding distances: compare it only within this suite;
higher means a clearer sync peak. Both are null when fewer than `MIN_FRAMES` tracked frames overlap, when the
mouth does not move (standard deviation of the opening below `MIN_MOUTH_STD` = 0.002 face heights, the tracker's
noise on a still photo: correlating noise would give a random offset), or when the audio is constant. The
estimate needs a few syllables of speech; over a 3-second sentence it can still miss by several frames.
"""

from __future__ import annotations

import numpy as np

from eval.metrics import Score

MAX_SHIFT = 15
MIN_FRAMES = 20
MIN_MOUTH_STD = 0.002
LEVEL_FLOOR_DB = -40.0
SMOOTH_FRAMES = 1.0


def _rate(x: np.ndarray) -> np.ndarray:
    """Central difference of x [T] after Gaussian smoothing (sigma SMOOTH_FRAMES); NaN gaps are bridged linearly
    for the smoothing and stay NaN in the result."""
    from scipy.ndimage import gaussian_filter1d

    x = np.asarray(x, np.float64)
    ok = np.isfinite(x)
    if ok.sum() < 2:
        return np.full_like(x, np.nan)
    filled = np.interp(np.arange(len(x)), np.flatnonzero(ok), x[ok])
    out = np.gradient(gaussian_filter1d(filled, SMOOTH_FRAMES))
    out[~ok] = np.nan
    return out


def visual_feature(mouth: np.ndarray) -> np.ndarray:
    """Rate of change of the mouth opening [T] (NaN where untracked)."""
    return _rate(mouth)


def audio_feature(envelope: np.ndarray) -> np.ndarray:
    """Rate of change of the speech level in dB (re the maximum, floored at LEVEL_FLOOR_DB) [T]."""
    e = np.asarray(envelope, np.float64)
    peak = e.max() if len(e) else 0.0
    if peak <= 0:
        return np.zeros_like(e)
    db = np.maximum(20 * np.log10(np.maximum(e, 1e-12) / peak), LEVEL_FLOOR_DB)
    return _rate(db)


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
    """(av_offset_frames, av_confidence) of mouth_open [T] (NaN untracked) against the audio RMS envelope [T']
    sampled at the same frame rate (see the module docstring)."""
    mouth = np.asarray(mouth, np.float64)
    finite = mouth[np.isfinite(mouth)]
    if len(finite) < MIN_FRAMES:
        reason = f"fewer than {MIN_FRAMES} tracked frames"
        return Score.null(reason), Score.null(reason)
    if finite.std() < MIN_MOUTH_STD:
        reason = "the mouth does not move (sync undefined)"
        return Score.null(reason), Score.null(reason)
    d = shift_distances(visual_feature(mouth), audio_feature(envelope), max_shift)
    if not np.isfinite(d).any():
        reason = "the audio is constant or too short"
        return Score.null(reason), Score.null(reason)
    j = int(np.nanargmin(d))
    return Score.of(-(j - max_shift)), Score.of(float(np.nanmedian(d) - d[j]))
