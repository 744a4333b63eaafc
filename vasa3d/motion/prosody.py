"""Prosody -> head motion and brows: F0 (YIN), accents from pitch and loudness, slow seeded sway scaled by speech
activity, nods on accents, head pitch following the F0 contour, settling at pauses, and a bound on angular
velocity so the head never jumps.

Rotations are axis-angle in the head frame (see `vasa3d.motion.sequence`): +x tips the face down (a nod), +y turns
it to the viewer's right, +z rolls it. Amplitudes follow measurements of conversational head motion (Munhall et
al. 2004, "Visual prosody and speech intelligibility": head pitch/yaw of a few degrees, correlated with F0 and
amplitude; Graf et al. 2002, "Visual prosody: facial movements accompanying speech": nods on pitch accents).
"""

from __future__ import annotations

import numpy as np

SWAY_RAD = np.array([0.025, 0.035, 0.02])
"""RMS sway (pitch, yaw, roll) radians while speaking (~1.4, 2.0, 1.1 degrees); half of it in silence."""
FADE_IN_S = 1.0
"""Head motion fades in over this long, so the first frame shows the head at rest (the photo's pose)."""
SWAY_M = np.array([0.003, 0.002, 0.003])
"""RMS sway of the head translation (x, y, z) metres while speaking."""
NOD_RAD = 0.05
"""Peak nod (head pitch down) for an accent of strength 1 (~2.9 degrees)."""
MAX_SPEED_RAD_S = 0.6
"""Bound on the head's angular speed (per axis), rad/s."""
F0_RANGE_HZ = (70.0, 400.0)
YIN_THRESHOLD = 0.15
HEAD_PITCH_PER_SEMITONE = 0.004
"""Head tilts up by this many radians per semitone of F0 above the speaker's median (Munhall et al. 2004)."""


def pitch_track(x16: np.ndarray, sr: int = 16000, hop_s: float = 0.01, win_s: float = 0.025,
                chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """F0 by YIN (de Cheveigne & Kawahara 2002, "YIN, a fundamental frequency estimator for speech and music").

    x16 [S] float32 at sr Hz. Frame j is centred on sample j * hop (the feature grid of
    `vasa3d.motion.features`). Returns f0_hz [F] float32 (0 where unvoiced) and aperiodicity [F] float32 in
    [0, 1] (the cumulative-mean-normalised difference at the chosen lag; low = clearly periodic).
    """
    hop, win = int(round(hop_s * sr)), int(round(win_s * sr))
    tau_min, tau_max = int(sr / F0_RANGE_HZ[1]), int(np.ceil(sr / F0_RANGE_HZ[0]))
    length = win + tau_max
    n = len(x16) // hop + 1
    pad = np.pad(x16.astype(np.float64), (length // 2, length))
    frames_all = np.lib.stride_tricks.sliding_window_view(pad, length)[::hop][:n]
    nfft = 1 << int(np.ceil(np.log2(length + win)))
    f0 = np.zeros(n, np.float32)
    aper = np.ones(n, np.float32)
    taus = np.arange(tau_max + 1)
    for c0 in range(0, n, chunk):
        fr = frames_all[c0:c0 + chunk]
        r = np.fft.irfft(np.conj(np.fft.rfft(fr[:, :win], nfft)) * np.fft.rfft(fr, nfft), nfft)[:, :tau_max + 1]
        cs = np.concatenate([np.zeros((len(fr), 1)), np.cumsum(fr ** 2, axis=1)], axis=1)
        e_tau = cs[:, taus + win] - cs[:, taus]
        d = np.maximum(cs[:, win:win + 1] + e_tau - 2 * r, 0.0)
        cum = np.cumsum(d[:, 1:], axis=1)
        cmnd = np.ones_like(d)
        cmnd[:, 1:] = d[:, 1:] * taus[1:] / np.maximum(cum, 1e-12)
        band = cmnd[:, tau_min:]
        below = band < YIN_THRESHOLD
        # first dip below the threshold, then walk to its local minimum
        first = np.where(below.any(1), below.argmax(1), band.argmin(1))
        for i, k in enumerate(first):
            while k + 1 < band.shape[1] and band[i, k + 1] < band[i, k]:
                k += 1
            first[i] = k
        best = band[np.arange(len(fr)), first]
        aper[c0:c0 + len(fr)] = np.clip(best, 0, 1)
        f0[c0:c0 + len(fr)] = np.where(best < 0.3, sr / (first + tau_min), 0.0)
    return f0, aper


def semitones(f0_hz: np.ndarray) -> np.ndarray:
    """[F] float64 F0 in semitones relative to the median voiced F0 (0 where unvoiced)."""
    voiced = f0_hz > 0
    if not voiced.any():
        return np.zeros(len(f0_hz))
    ref = float(np.median(f0_hz[voiced]))
    return np.where(voiced, 12.0 * np.log2(np.maximum(f0_hz, 1e-6) / ref), 0.0)


def prosodic_accents(feat_times_s: np.ndarray, openness: np.ndarray, f0_hz: np.ndarray,
                     min_gap_s: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Accented syllables from pitch and loudness: (times_s [A], strengths [A] in [0, 1]).

    Syllable nuclei are peaks of the 100 ms-smoothed openness; each scores 0.5 * its loudness prominence plus
    0.6 * its F0 excursion above the local (1.5 s) mean, in units of 3 semitones (pitch accents are F0 peaks on
    stressed syllables, Pierrehumbert 1980). Nuclei scoring >= 0.35 are kept, strongest first, >= min_gap_s apart.
    """
    from scipy.ndimage import gaussian_filter1d, uniform_filter1d
    from scipy.signal import find_peaks

    if len(openness) < 3:
        return np.zeros(0), np.zeros(0)
    dt = float(feat_times_s[1] - feat_times_s[0])
    env = gaussian_filter1d(openness.astype(np.float64), 0.1 / dt / 2.355)
    idx, props = find_peaks(env, prominence=0.1, distance=max(1, int(0.15 / dt)))
    st = semitones(f0_hz)
    voiced = (f0_hz > 0).astype(np.float64)
    w = max(1, int(1.5 / dt))
    local = uniform_filter1d(st, w) / np.maximum(uniform_filter1d(voiced, w), 1e-3)
    peak_st = np.array([st[max(0, i - 8):i + 9].max() for i in idx]) if len(idx) else np.zeros(0)
    excursion = np.clip((peak_st - local[idx]) / 3.0, 0, 1)
    score = np.clip(0.5 * props["prominences"] + 0.6 * excursion, 0, 1)
    chosen: list[int] = []
    for k in np.argsort(-score):
        if score[k] < 0.35:
            break
        if all(abs(feat_times_s[idx[k]] - feat_times_s[idx[j]]) >= min_gap_s for j in chosen):
            chosen.append(int(k))
    chosen.sort()
    return feat_times_s[idx[chosen]], score[chosen]


def f0_head_pitch(times_s: np.ndarray, feat_times_s: np.ndarray, f0_hz: np.ndarray) -> np.ndarray:
    """[T] float64 head pitch offset (rad, negative = head up) following the 300 ms-smoothed F0 contour:
    -HEAD_PITCH_PER_SEMITONE per semitone above the median, bounded to +-0.03 rad, relaxing to 0 when unvoiced."""
    from scipy.ndimage import gaussian_filter1d

    st = semitones(f0_hz)
    dt = float(feat_times_s[1] - feat_times_s[0]) if len(feat_times_s) > 1 else 0.01
    sm = gaussian_filter1d(np.clip(st, -8, 8), 0.3 / dt / 2.355)
    return np.clip(-HEAD_PITCH_PER_SEMITONE * np.interp(times_s, feat_times_s, sm), -0.03, 0.03)


def sway(times_s: np.ndarray, rng: np.random.Generator, dims: int = 3, freqs_hz=(0.06, 0.35)) -> np.ndarray:
    """[T, dims] float64 unit-RMS smooth noise: per axis, 4 sinusoids with random frequencies and phases."""
    out = np.zeros((len(times_s), dims))
    for d in range(dims):
        f = rng.uniform(*freqs_hz, size=4)
        ph = rng.uniform(0, 2 * np.pi, size=4)
        amp = rng.uniform(0.5, 1.0, size=4) / np.sqrt(f / freqs_hz[0])  # more power at low frequencies
        amp = amp / np.sqrt(0.5 * np.sum(amp ** 2))
        out[:, d] = (amp[None, :] * np.sin(2 * np.pi * f[None, :] * times_s[:, None] + ph[None, :])).sum(1)
    return out


def smooth_activity(times_s: np.ndarray, feat_times_s: np.ndarray, openness: np.ndarray,
                    window_s: float = 1.0) -> np.ndarray:
    """[T] float32 speech activity in [0, 1]: share of voiced (openness > 0.05) feature frames in a Hann window
    of window_s around each frame time."""
    from scipy.signal import fftconvolve

    dt = float(feat_times_s[1] - feat_times_s[0]) if len(feat_times_s) > 1 else 0.01
    k = np.hanning(max(3, int(window_s / dt) | 1))
    k /= k.sum()
    act = fftconvolve((openness > 0.05).astype(np.float64), k, mode="same")
    return np.clip(np.interp(times_s, feat_times_s, act), 0, 1).astype(np.float32)


def head_motion(times_s: np.ndarray, activity: np.ndarray, accent_times_s: np.ndarray,
                accent_strengths: np.ndarray, rng: np.random.Generator, fps: float,
                scale: float = 1.0, pitch_offset: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Head rotation [T, 3] (axis-angle, rad) and translation [T, 3] (m), float32, for frame times times_s [T].

    activity [T] in [0, 1] scales the sway (half amplitude in silence, so the head settles at pauses);
    accents (times_s [A], strengths [A] in [0, 1]) each add a nod: a Hann-shaped pitch-down of NOD_RAD * strength
    starting 0.15 s before the accent and lasting 0.55 s, with a small random yaw/roll companion; pitch_offset [T]
    (rad, e.g. `f0_head_pitch`) is added to the head pitch. All of it fades in over FADE_IN_S (the first frame
    is the rest pose, the photo's), is
    Gaussian-smoothed (sigma 60 ms), its angular speed limited to MAX_SPEED_RAD_S, and multiplied by `scale`.
    """
    from scipy.ndimage import gaussian_filter1d

    n = len(times_s)
    if n == 0:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32)
    gain = (0.5 + 0.5 * activity.astype(np.float64))[:, None]
    s = sway(times_s, rng, 3)
    rot = np.zeros((n, 3))
    rot[:, [0, 1, 2]] = s * SWAY_RAD[None, :] * gain           # columns: x = pitch, y = yaw, z = roll
    if pitch_offset is not None:
        rot[:, 0] += pitch_offset
    trans = sway(times_s, rng, 3, (0.05, 0.25)) * SWAY_M[None, :] * gain
    for t0, a in zip(accent_times_s, accent_strengths):
        width = 0.55
        u = (times_s - (t0 - 0.15)) / width
        bump = np.where((u > 0) & (u < 1), 0.5 * (1 - np.cos(2 * np.pi * np.clip(u, 0, 1))), 0.0)
        rot[:, 0] += NOD_RAD * a * bump
        rot[:, 1] += rng.normal(0, 0.25) * NOD_RAD * a * bump
        rot[:, 2] += rng.normal(0, 0.15) * NOD_RAD * a * bump
        trans[:, 2] += 0.002 * a * bump                         # a slight forward push with the nod
    fade = 0.5 - 0.5 * np.cos(np.pi * np.clip(times_s / FADE_IN_S, 0, 1))
    rot *= fade[:, None]
    trans *= fade[:, None]
    sigma = 0.06 * fps
    if sigma > 0.3:
        rot = gaussian_filter1d(rot, sigma, axis=0, mode="nearest")
        trans = gaussian_filter1d(trans, sigma, axis=0, mode="nearest")
    rot = limit_speed(rot, MAX_SPEED_RAD_S / fps)
    return (rot * scale).astype(np.float32), (trans * scale).astype(np.float32)


def limit_speed(x: np.ndarray, max_step: float) -> np.ndarray:
    """[T, C] -> [T, C] with every per-frame step clipped to +-max_step (a causal slew-rate limiter)."""
    out = x.copy()
    for i in range(1, len(out)):
        out[i] = out[i - 1] + np.clip(x[i] - out[i - 1], -max_step, max_step)
    return out
