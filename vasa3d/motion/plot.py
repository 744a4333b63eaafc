"""Diagnostic figure of a MotionSequence against its audio: waveform with phone labels, the main mouth and eye
coefficients, and head rotation, on one time axis (seconds)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from vasa3d.motion.sequence import MotionSequence, _atomic_write

MOUTH_TRACKS = ("jawOpen", "mouthClose", "mouthPucker", "mouthFunnel", "mouthPressLeft", "mouthRollLower")


def plot_motion(motion: MotionSequence, wave: np.ndarray, sr: int, phones, path: str | os.PathLike,
                title: str | None = None) -> Path:
    """Write a PNG (atomically) of wave [S] (float, sr Hz), phone labels, motion coefficients and head rotation.

    phones: iterable of objects with start_s, end_s, phone (or (start, end, phone) tuples), may be None or
    empty. Panels: waveform with phone boundaries and labels; jawOpen, mouthClose, pucker, funnel, press,
    roll-lower and the lip gap (jawOpen - mouthClose + half of lowerDown + upperUp); eyeBlinkLeft and
    browInnerUp; head rotation (degrees about x = nod, y = turn, z = roll) and gaze (degrees). Uses matplotlib's
    Agg backend. Returns the path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from vasa3d.motion.phones import as_phones
    from vasa3d.motion.visemes import lip_gap

    wave = np.asarray(wave, np.float64).reshape(-1)
    t_audio = np.arange(len(wave)) / float(sr)
    t = motion.times_s
    fig, axes = plt.subplots(4, 1, figsize=(max(10.0, 1.6 * motion.duration_s), 10), sharex=True,
                             gridspec_kw={"height_ratios": [1.2, 1.6, 0.8, 1.0]})
    _audio_panel(axes[0], t_audio, wave, as_phones(phones or []))
    ax = axes[1]
    for name in MOUTH_TRACKS:
        ax.plot(t, motion.coeff(name), lw=1.0, label=name)
    ax.plot(t, lip_gap(motion), "k--", lw=0.8, label="lip gap")
    ax.set_ylabel("mouth")
    ax.legend(loc="upper right", fontsize=7, ncol=4)
    ax = axes[2]
    ax.plot(t, motion.coeff("eyeBlinkLeft"), lw=1.0, label="eyeBlinkLeft")
    ax.plot(t, motion.coeff("browInnerUp"), lw=1.0, label="browInnerUp")
    ax.set_ylabel("eyes, brows")
    ax.legend(loc="upper right", fontsize=7)
    ax = axes[3]
    for j, name in enumerate(("x (nod)", "y (turn)", "z (roll)")):
        ax.plot(t, np.degrees(motion.head_rotation[:, j]), lw=1.0, label=f"head {name}")
    ax.plot(t, np.degrees(motion.gaze[:, 0]), lw=0.7, ls=":", label="gaze yaw")
    ax.plot(t, np.degrees(motion.gaze[:, 1]), lw=0.7, ls=":", label="gaze pitch")
    ax.set_ylabel("degrees")
    ax.set_xlabel("time (s)")
    ax.legend(loc="upper right", fontsize=7, ncol=5)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    try:
        _atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110), binary=True)
    finally:
        plt.close(fig)
    return path


def _audio_panel(ax, t_audio: np.ndarray, wave: np.ndarray, phones) -> None:
    """Waveform (decimated to ~20k points) with phone boundaries and labels (alternating rows)."""
    step = max(1, len(wave) // 20000)
    ax.plot(t_audio[::step], wave[::step], lw=0.4, color="0.3")
    ax.set_ylabel("audio")
    for k, p in enumerate(phones):
        ax.axvline(p.start_s, color="tab:blue", lw=0.3, alpha=0.5)
        ax.text(0.5 * (p.start_s + p.end_s), 1.0 - 0.12 * (k % 2), p.phone, transform=ax.get_xaxis_transform(),
                ha="center", va="top", fontsize=6, color="tab:blue")
