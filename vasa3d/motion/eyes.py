"""Eyes: stochastic blinks (more likely at speech pauses) and small gaze saccades between fixations.

Blink statistics follow the conversational eye-blink literature: a blink every ~3-5 s on average (Bentivoglio et
al. 1997, "Analysis of blink rate patterns in normal subjects", ~17-26 blinks/min in conversation), 100-200 ms
long, with a fast closing phase and a slower opening phase (Evinger et al. 1991); blinks cluster at pauses and
phrase ends (Nakano & Kitazawa 2010). Saccades are ~30-50 ms steps between fixations of ~0.5-3 s.
"""

from __future__ import annotations

import numpy as np

BLINK_MEAN_INTERVAL_S = 4.0
BLINK_MIN_INTERVAL_S = 1.2
BLINK_DURATION_S = (0.10, 0.20)
BLINK_CLOSE_SHARE = 0.35
"""Share of a blink spent closing; the rest is the slower opening."""
PAUSE_ATTRACTION = 0.75
"""Probability that a blink falling within 1.5 s after a pause start is moved into that pause."""


def blink_times(duration_s: float, rng: np.random.Generator,
                pause_starts_s: np.ndarray | None = None) -> list[tuple[float, float]]:
    """Blink events [(peak_time_s, blink_duration_s), ...] over [0, duration_s].

    Intervals are gamma distributed (shape 3, mean BLINK_MEAN_INTERVAL_S, at least BLINK_MIN_INTERVAL_S); a
    blink that falls shortly after a pause start moves to ~0.12 s into the pause with PAUSE_ATTRACTION.
    """
    pauses = np.sort(np.asarray(pause_starts_s if pause_starts_s is not None else [], np.float64))
    events: list[tuple[float, float]] = []
    t = float(rng.uniform(0.4, 2.5))
    while t < duration_s - 0.1:
        dur = float(rng.uniform(*BLINK_DURATION_S))
        near = pauses[(pauses <= t) & (pauses > t - 1.5)]
        if near.size and rng.random() < PAUSE_ATTRACTION:
            moved = float(near[-1]) + 0.12
            if not events or moved - events[-1][0] >= BLINK_MIN_INTERVAL_S:
                t = moved
        events.append((t, dur))
        t += max(BLINK_MIN_INTERVAL_S, float(rng.gamma(3.0, BLINK_MEAN_INTERVAL_S / 3.0)))
    return events


def blink_track(times_s: np.ndarray, events: list[tuple[float, float]], fps: float) -> np.ndarray:
    """[T] float32 eyelid closure in [0, 1] (1 = closed) at times_s [T] from blink events.

    Each peak is snapped to the nearest frame so every blink shows one fully closed frame. Shape: raised-cosine
    closing over BLINK_CLOSE_SHARE of the duration, raised-cosine opening over the rest.
    """
    out = np.zeros(len(times_s), np.float64)
    for peak, dur in events:
        peak = round(peak * fps) / fps
        t_close, t_open = BLINK_CLOSE_SHARE * dur, (1 - BLINK_CLOSE_SHARE) * dur
        u = times_s - peak
        v = np.where(u < 0, 0.5 * (1 + np.cos(np.pi * np.clip(-u / t_close, 0, 1))),
                     0.5 * (1 + np.cos(np.pi * np.clip(u / t_open, 0, 1))))
        out = np.maximum(out, v)
    return out.astype(np.float32)


def gaze_track(times_s: np.ndarray, rng: np.random.Generator, activity: np.ndarray | None = None) -> np.ndarray:
    """[T, 2] float32 (yaw, pitch) radians: fixations joined by 40 ms raised-cosine saccades.

    Fixation lengths are gamma distributed (mean 1.6 s, shorter while speaking if activity [T] in [0, 1] is
    given); targets are centre-biased (yaw sd 0.06 rad, pitch sd 0.035 rad, ~40% return to centre), bounded to
    +-0.2 rad yaw and +-0.12 rad pitch.
    """
    n = len(times_s)
    gaze = np.zeros((n, 2), np.float64)
    if n == 0:
        return gaze.astype(np.float32)
    end = float(times_s[-1])
    t, cur = 0.0, np.zeros(2)
    switches: list[tuple[float, np.ndarray, np.ndarray]] = []
    while True:
        mean = 1.6
        if activity is not None:
            i = min(n - 1, int(np.searchsorted(times_s, t)))
            mean = 1.6 - 0.6 * float(activity[i])
        t += max(0.35, float(rng.gamma(2.5, mean / 2.5)))
        if t >= end:
            break
        if rng.random() < 0.4:
            nxt = np.zeros(2)
        else:
            nxt = np.array([rng.normal(0, 0.06), rng.normal(0, 0.035)])
        nxt = np.clip(nxt, [-0.2, -0.12], [0.2, 0.12])
        switches.append((t, cur, nxt))
        cur = nxt
    saccade_s = 0.04
    for t0, a, b in switches:
        w = 0.5 * (1 - np.cos(np.pi * np.clip((times_s - t0) / saccade_s, 0, 1)))
        gaze += w[:, None] * (b - a)[None, :]
    return gaze.astype(np.float32)
