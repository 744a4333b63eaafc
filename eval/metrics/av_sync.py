"""av_offset_frames and av_confidence: the audio-visual offset of a talking video, and how clear it is.

Method: FaceSync (Slaney & Covell 2000, "FaceSync: a linear operator for measuring synchronization of video facial
images and audio tracks", NeurIPS): for each shift k of the audio against the video, the first canonical correlation
(Hotelling 1936) between a few mouth-shape features and a few audio band energies; the offset is the shift of the
highest correlation, scanned the way SyncNet scans (Chung & Zisserman 2016): offset = -argmax_k r(k).
- Visual features per frame [T, 3] (`visual_features`): inner-lip opening (landmarks 13-14), mouth width (corners
  61-291) and outer-lip height (0-17), each over the face height (10-152), from the evaluation's tracker.
- Audio features per frame [T, 8] (`audio_features`): log energies of 8 bands spaced geometrically from 100 Hz to
  7 kHz, in 64 ms Hann windows centred on the frame times. Levels, not rates of change: the opening follows the
  vocal-tract shape (which the band energies encode) at every instant, while onsets recur with the syllable rhythm,
  so rate features gave secondary peaks one syllable (6-12 frames) away (the previous version of this metric
  reported -12..+13 frames on the real GRID video; this one 0 +-1 on every 10 s clip).
- The CCA is ridge-regularised (10% of the mean variance added to each covariance's diagonal) so that 3 x 8
  features over a few hundred frames do not fit noise.
Search window: `MAX_SHIFT` = 10 frames (+-400 ms at 25 fps), 2-4 times ITU-R BT.1359's limits of acceptability
(audio 90 ms early, 185 ms late): an offset beyond it is a broken file, not lip sync, and a wider window admits
the syllable-rhythm aliases. A peak on the window's edge is reported as null (the true peak may lie outside).
Confidence: r(peak) - median_k r(k) (in correlation units; higher = a clearer peak); null below `MIN_CONFIDENCE`
= 0.05. Context: at least `MIN_FRAMES` = 50 tracked frames (2 s); on the GRID video 10 s clips found every true
offset (0, +-3, +-6) within 1 frame, 3 s clips missed by 4-10 frames in about 1 case in 5, so benchmarks should cut
clips of 10 s (`make-bench --from-videos --clip-s 10`). Real shifted GRID clips of other sentences (wrong audio)
still score confidences of 0.04-0.2 (GRID's sentences share one rhythm): the confidence orders clips, it does not
prove sync. Sign: offset > 0 means the sound comes before the matching mouth movement (audio leads).
"""

from __future__ import annotations

import numpy as np

from eval.metrics import Score

MAX_SHIFT = 10
MIN_FRAMES = 50
MIN_MOUTH_STD = 0.002
MIN_CONFIDENCE = 0.05
RIDGE = 0.1
NUM_BANDS = 8
BAND_HZ = (100.0, 7000.0)
WINDOW_S = 0.064
MOUTH_CORNERS = (61, 291)
OUTER_LIPS = (0, 17)


def visual_features(track) -> np.ndarray:
    """float64 [T, 3] inner-lip opening, mouth width, outer-lip height over the face height (NaN untracked)."""
    from eval.metrics.mouth import mouth_open
    from eval.tracking import CHIN, FOREHEAD

    lm = track.landmarks.astype(np.float64)
    height = np.linalg.norm(lm[:, FOREHEAD, :2] - lm[:, CHIN, :2], axis=1)

    def ratio(i, j):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.linalg.norm(lm[:, i, :2] - lm[:, j, :2], axis=1) / np.where(height > 0, height, np.nan)

    return np.column_stack([mouth_open(track), ratio(*MOUTH_CORNERS), ratio(*OUTER_LIPS)])


def audio_features(wave: np.ndarray, sr: int, fps: float, num_frames: int) -> np.ndarray:
    """float64 [num_frames, NUM_BANDS] log band energies at the frame times t / fps (see the module docstring);
    windows past the end of the audio are zero-padded."""
    wave = np.asarray(wave, np.float64)
    win = int(round(WINDOW_S * sr))
    freqs = np.fft.rfftfreq(win, 1.0 / sr)
    edges = np.geomspace(BAND_HZ[0], min(BAND_HZ[1], 0.5 * sr), NUM_BANDS + 1)
    band = np.clip(np.searchsorted(edges, freqs, side="right") - 1, -1, NUM_BANDS)
    centres = np.round(np.arange(num_frames) * sr / fps).astype(int)
    padded = np.pad(wave, (win, win + max(0, (int(centres[-1]) if num_frames else 0) - len(wave))))
    idx = centres[:, None] + win - win // 2 + np.arange(win)[None, :]
    power = np.abs(np.fft.rfft(padded[idx] * np.hanning(win), axis=1)) ** 2
    out = np.zeros((num_frames, NUM_BANDS))
    for b in range(NUM_BANDS):
        out[:, b] = power[:, band == b].sum(1)
    return np.log(out + 1e-10)


def canonical_correlation(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE) -> float:
    """First canonical correlation of x [N, Dx] and y [N, Dy] (rows paired), each covariance regularised by
    ridge x its mean variance on the diagonal; in [0, 1]."""
    x = x - x.mean(0)
    y = y - y.mean(0)
    n = len(x)

    def whiten(z):
        c = z.T @ z / n
        c += ridge * max(np.trace(c) / len(c), 1e-18) * np.eye(len(c))
        return np.linalg.inv(np.linalg.cholesky(c))

    cxy = x.T @ y / n
    return float(np.linalg.svd(whiten(x) @ cxy @ whiten(y).T, compute_uv=False)[0])


def shift_correlations(visual: np.ndarray, audio: np.ndarray, max_shift: int = MAX_SHIFT) -> np.ndarray:
    """r(k) for k = -max_shift..max_shift, float64 [2 max_shift + 1]: canonical correlation of visual[t] with
    audio[t + k] over the frames where both are finite; NaN where fewer than MIN_FRAMES overlap."""
    v = np.asarray(visual, np.float64).reshape(len(visual), -1)
    a = np.asarray(audio, np.float64).reshape(len(audio), -1)
    out = np.full(2 * max_shift + 1, np.nan)
    for j, k in enumerate(range(-max_shift, max_shift + 1)):
        t = np.arange(max(0, -k), min(len(v), len(a) - k))
        if len(t) == 0:
            continue
        x, y = v[t], a[t + k]
        ok = np.isfinite(x).all(1) & np.isfinite(y).all(1)
        if ok.sum() < MIN_FRAMES or np.all(x[ok].std(0) < 1e-12) or np.all(y[ok].std(0) < 1e-12):
            continue
        out[j] = canonical_correlation(x[ok], y[ok])
    return out


def av_sync(visual: np.ndarray, audio: np.ndarray, max_shift: int = MAX_SHIFT) -> tuple[Score, Score]:
    """(av_offset_frames, av_confidence) of visual features [T] or [T, Dv] (column 0 the mouth opening; NaN
    untracked) against audio features [T'] or [T', Da] at the same frame rate (see the module docstring)."""
    visual = np.asarray(visual, np.float64).reshape(len(visual), -1)
    finite = visual[np.isfinite(visual[:, 0]), 0]
    if len(finite) < MIN_FRAMES:
        reason = f"fewer than {MIN_FRAMES} tracked frames"
        return Score.null(reason), Score.null(reason)
    if finite.std() < MIN_MOUTH_STD:
        reason = "the mouth does not move (sync undefined)"
        return Score.null(reason), Score.null(reason)
    r = shift_correlations(visual, audio, max_shift)
    if not np.isfinite(r).any():
        reason = "the audio is constant or too short"
        return Score.null(reason), Score.null(reason)
    j = int(np.nanargmax(r))
    conf = float(r[j] - np.nanmedian(r))
    if j in (0, 2 * max_shift):
        reason = f"no sync peak within +-{max_shift} frames (the best shift is on the window's edge)"
        return Score.null(reason), Score.of(conf)
    if conf < MIN_CONFIDENCE:
        return Score.null(f"no clear sync peak (confidence {conf:.3f} < {MIN_CONFIDENCE})"), Score.of(conf)
    return Score.of(-(j - max_shift)), Score.of(conf)
