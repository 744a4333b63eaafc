"""Weight-free naturalness figures in the spirit of THEval (CVPR 2026, FACTS.md), each also as a ratio to the real
video, and their combination `naturalness`.

THEval found that mouth quality, head-motion, lip and eyebrow dynamics and silent-lip stability, each normalised
against the real video, track human ratings (rho 0.87 combined) where LSE-C and FID do not. Here, from this
suite's tracker (MediaPipe Face Mesh landmarks, `eval.tracking`) and the frames:
- `lip_dynamics`: standard deviation of d(mouth_open)/dt over the frames outside silences (face heights/s);
- `eyebrow_dynamics`: standard deviation of d(brow height)/dt (face heights/s), brow height = mean distance of the
  mid-brow landmarks (105, 334) above the upper-lid midpoints (159, 386) over the face height (10-152);
- `mouth_sharpness`: mean over frames of the variance of the Laplacian of the grey mouth region (landmark box of
  the lips 61, 291, 0, 17 widened by 30%, resized to 64 x 32 so resolution does not count; Pech-Pacheco et al.
  2000's focus measure); blurry or smeared mouths score low;
- `head_motion_dynamics` and `silence_lip_motion` come from their own modules.
Ratio to the real video r = method / real, per figure, for cases with one (`ratios_to_real`). `naturalness` =
mean over the available figures of exp(-|ln r|): 1 when every figure equals the real video's, 0.5 when a figure is
half or double the real one; null without a real video. A still photo has near-zero dynamics, hence a small score.
"""

from __future__ import annotations

import math

import numpy as np

from eval.metrics import Score

BROWS = (105, 334)
UPPER_LIDS = (159, 386)
LIPS = (61, 291, 0, 17)
MOUTH_PX = (64, 32)
RATIO_FIGURES = ("lip_dynamics", "eyebrow_dynamics", "head_motion_dynamics", "silence_lip_motion",
                 "mouth_sharpness")


def _speech_mask(num_frames: int, fps: float, silences) -> np.ndarray:
    keep = np.ones(num_frames, bool)
    for a, b in silences or []:
        keep[int(math.ceil(a * fps)):int(math.floor(b * fps)) + 1] = False
    return keep


def _rate_std(x: np.ndarray, fps: float, keep: np.ndarray | None = None) -> Score:
    d = np.diff(np.asarray(x, np.float64)) * fps
    ok = np.isfinite(d) if keep is None else np.isfinite(d) & keep[1:] & keep[:-1]
    if ok.sum() < 10:
        return Score.null("fewer than 10 tracked frame pairs")
    return Score.of(float(np.std(d[ok])))


def lip_dynamics(mouth: np.ndarray, fps: float, silences) -> Score:
    """std of d mouth_open / dt outside silences (face heights/s); mouth [T] (NaN untracked)."""
    return _rate_std(mouth, fps, _speech_mask(len(mouth), fps, silences))


def eyebrow_dynamics(track) -> Score:
    """std of d(brow height)/dt (face heights/s), see the module docstring."""
    from eval.tracking import CHIN, FOREHEAD

    lm = track.landmarks.astype(np.float64)
    height = np.linalg.norm(lm[:, FOREHEAD, :2] - lm[:, CHIN, :2], axis=1)
    brow = np.mean([np.linalg.norm(lm[:, b, :2] - lm[:, e, :2], axis=1) for b, e in zip(BROWS, UPPER_LIDS)], 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _rate_std(brow / np.where(height > 0, height, np.nan), track.fps)


def mouth_sharpness(frames: np.ndarray, track) -> Score:
    """Mean variance of the Laplacian of the grey mouth region (see the module docstring); frames uint8."""
    import cv2

    vals = []
    for t in np.flatnonzero(track.found):
        p = track.landmarks[t, list(LIPS), :2]
        (x0, y0), (x1, y1) = p.min(0), p.max(0)
        w, h = (x1 - x0) * 1.3, max(y1 - y0, 0.5 * (x1 - x0)) * 1.3
        cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
        a, b = int(max(cx - w / 2, 0)), int(max(cy - h / 2, 0))
        region = frames[t, b:int(cy + h / 2) + 1, a:int(cx + w / 2) + 1]
        if region.shape[0] < 4 or region.shape[1] < 4:
            continue
        grey = cv2.cvtColor(np.ascontiguousarray(region), cv2.COLOR_RGB2GRAY)
        grey = cv2.resize(grey, MOUTH_PX, interpolation=cv2.INTER_AREA).astype(np.float64) / 255.0
        vals.append(float(cv2.Laplacian(grey, cv2.CV_64F).var()))
    return Score.of(float(np.mean(vals))) if vals else Score.null("no tracked mouth")


def ratios_to_real(scores: dict[str, Score], real: dict[str, Score] | None) -> dict[str, float | None]:
    """{figure: method / real} for RATIO_FIGURES (None where either is missing or the real one is 0)."""
    out = {}
    for n in RATIO_FIGURES:
        a = scores.get(n)
        b = (real or {}).get(n)
        ok = a is not None and b is not None and a.value is not None and b.value not in (None, 0.0)
        out[n] = float(a.value / b.value) if ok and math.isfinite(a.value / b.value) else None
    return out


def naturalness(ratios: dict[str, float | None] | None) -> Score:
    """Mean over the available ratios r of exp(-|ln r|) (see the module docstring)."""
    if not ratios:
        return Score.null("no real video to compare with")
    vals = [math.exp(-abs(math.log(r))) if r > 0 else 0.0 for r in ratios.values() if r is not None]
    return Score.of(float(np.mean(vals))) if vals else Score.null("no figure measurable in both videos")
