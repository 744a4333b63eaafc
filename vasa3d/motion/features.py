"""Frame-level audio features for motion: 16 kHz mono input, loudness (RMS dB), a noise-gated openness envelope,
spectral centroid, and attack/release smoothing.

Feature frames: hop `HOP_S` (10 ms), window `WIN_S` (25 ms), frame j centred on time j * HOP_S seconds (the signal is
padded by half a window at both ends).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np

from vasa3d.errors import InputError

FEATURE_SR = 16000
"""Sample rate, Hz, at which all motion features are computed (and PocketSphinx expects)."""
HOP_S = 0.010
WIN_S = 0.025
SILENCE_DBFS = -60.0
"""Frames quieter than this (RMS, dB relative to full scale 1.0) are always silence."""


@dataclass(frozen=True)
class AudioFeatures:
    """Per-feature-frame audio description (F frames, 100 per second).

    times_s [F] float64 frame centres, seconds; rms_db [F] float32 RMS level in dBFS; openness [F] float32 in
    [0, 1], the noise-gated, compressed loudness (0 = silence); centroid_hz [F] float32 spectral centroid (Hz);
    flatness [F] float32 spectral flatness in [0, 1] (high for noise/fricatives).
    """

    times_s: np.ndarray
    rms_db: np.ndarray
    openness: np.ndarray
    centroid_hz: np.ndarray
    flatness: np.ndarray


def prepare_wave(wave, sr: int) -> np.ndarray:
    """Validate a mono waveform and resample it to FEATURE_SR.

    wave: [S] float (any float dtype, nominally in [-1, 1]) or integer PCM (scaled by its dtype's range).
    sr: its sample rate, Hz. Returns [S'] float32 at 16 kHz. Raises InputError for an empty, multi-channel or
    non-finite wave, or a sample rate below 4 kHz.
    """
    a = np.asarray(wave)
    if a.ndim != 1:
        raise InputError(f"audio must be a mono waveform of shape [S], got shape {list(a.shape)}; "
                         "mix the channels down first (vasa3d.io reads any file as mono)")
    if a.size == 0:
        raise InputError("audio is empty: give a recording with speech in it")
    if np.issubdtype(a.dtype, np.integer):
        a = a.astype(np.float32) / float(np.iinfo(a.dtype).max + 1)
    a = a.astype(np.float32, copy=False)
    if not np.all(np.isfinite(a)):
        raise InputError("audio contains NaN or infinite samples")
    if int(sr) != sr or sr < 4000:
        raise InputError(f"sample rate must be an integer >= 4000 Hz, got {sr}")
    sr = int(sr)
    if sr == FEATURE_SR:
        return np.ascontiguousarray(a)
    from scipy.signal import resample_poly

    g = gcd(sr, FEATURE_SR)
    return resample_poly(a, FEATURE_SR // g, sr // g).astype(np.float32)


def frame_signal(x: np.ndarray, win: int, hop: int) -> np.ndarray:
    """[F, win] view of x padded by win // 2 zeros at both ends, frame j centred on sample j * hop."""
    pad = np.pad(x, (win // 2, win // 2 + hop))
    n = len(x) // hop + 1
    frames = np.lib.stride_tricks.sliding_window_view(pad, win)[::hop]
    return frames[:n]


def compute_features(x16: np.ndarray) -> AudioFeatures:
    """Loudness and spectral shape of a 16 kHz waveform [S] float32 (see `AudioFeatures`)."""
    win, hop = int(WIN_S * FEATURE_SR), int(HOP_S * FEATURE_SR)
    frames = frame_signal(x16, win, hop)
    rms_db = 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    spec = np.abs(np.fft.rfft(frames * np.hanning(win), n=512, axis=1)) ** 2 + 1e-12
    freqs = np.fft.rfftfreq(512, 1.0 / FEATURE_SR)
    band = (freqs >= 100) & (freqs <= 7000)
    sb = spec[:, band]
    centroid = (sb * freqs[band]).sum(1) / sb.sum(1)
    flatness = np.exp(np.mean(np.log(sb), axis=1)) / np.mean(sb, axis=1)
    times = np.arange(len(frames)) * HOP_S
    return AudioFeatures(times, rms_db.astype(np.float32), gated_openness(rms_db).astype(np.float32),
                         centroid.astype(np.float32), flatness.astype(np.float32))


def gated_openness(rms_db: np.ndarray, exponent: float = 1.0) -> np.ndarray:
    """Map RMS level [F] dBFS to openness [F] in [0, 1]: noise gate, then linear in dB (compressive in amplitude).

    Gate threshold = max(noise floor (10th percentile) + 8 dB, speech peak (97th percentile) - 35 dB,
    SILENCE_DBFS); levels at or below it give exactly 0, the peak gives 1.
    """
    if rms_db.size == 0:
        return np.zeros(0, np.float32)
    floor, peak = np.percentile(rms_db, [10, 97])
    if peak <= SILENCE_DBFS:
        return np.zeros_like(rms_db, dtype=np.float32)
    thr = max(floor + 8.0, peak - 35.0, SILENCE_DBFS)
    thr = min(thr, peak - 6.0)
    o = np.clip((rms_db - thr) / (peak - thr), 0.0, 1.0) ** exponent
    return o.astype(np.float32)


def attack_release(x: np.ndarray, dt_s: float, attack_s: float, release_s: float) -> np.ndarray:
    """One-pole envelope follower [F] -> [F]: rises with time constant attack_s, falls with release_s.

    Values below 0.01 are snapped to 0 so that silence is exactly still.
    """
    a_up = 1.0 - np.exp(-dt_s / max(attack_s, 1e-6))
    a_dn = 1.0 - np.exp(-dt_s / max(release_s, 1e-6))
    y = np.empty(len(x), np.float64)
    state = 0.0
    for i, v in enumerate(np.asarray(x, np.float64)):
        state += (a_up if v > state else a_dn) * (v - state)
        y[i] = state
    y[y < 0.01] = 0.0
    return y.astype(np.float32)


def sample_at(times_src: np.ndarray, values: np.ndarray, times_dst: np.ndarray) -> np.ndarray:
    """Linear interpolation of values [F] (or [F, C]) at times_dst [T]; holds the end values outside."""
    if values.ndim == 1:
        return np.interp(times_dst, times_src, values).astype(np.float32)
    return np.stack([np.interp(times_dst, times_src, values[:, c]) for c in range(values.shape[1])],
                    axis=1).astype(np.float32)


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[(start, stop), ...] half-open index runs where the bool array mask [F] is True, in order."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(mask).astype(np.int8), [0]])))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))
