"""Figures of the report (matplotlib, Agg backend, PNG): bar charts of the summary, mouth opening over time per
case, and a montage of frames per method side by side."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from eval.metrics import METRICS
from eval.speech import BILABIALS, OPEN_VOWELS

GRID_NOTE = "GRID audiovisual sentence corpus, CC BY 4.0: Cooke, Barker, Cunningham & Shao (2006)"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def summary_bars(summary: dict, path: Path) -> Path | None:
    """One bar chart per metric with a finite value for some method (mean over cases); None if nothing to plot."""
    plt = _plt()
    methods = list(summary)
    names = [m for m in METRICS if any(summary[k][m.name].value is not None and
                                       math.isfinite(summary[k][m.name].value) for k in methods)]
    if not names:
        return None
    cols = 4
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, m in zip(axes.flat, names):
        vals = [summary[k][m.name].value for k in methods]
        ys = [v if v is not None and math.isfinite(v) else 0.0 for v in vals]
        bars = ax.bar(range(len(methods)), ys, color=[colours[i % len(colours)] for i in range(len(methods))])
        for b, v in zip(bars, vals):
            label = "n/a" if v is None else "inf" if math.isinf(v) else f"{v:.3g}"
            ax.annotate(label, (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom", fontsize=7)
        arrow = {"higher": "(higher better)", "lower": "(lower better)"}.get(m.direction, "(closer to real)")
        ax.set_title(f"{m.name}\n{arrow}", fontsize=8)
        ax.set_xticks(range(len(methods)), methods, rotation=30, fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    _save(fig, path, dpi=110)
    return path


def mouth_curves(case: str, evals, path: Path) -> Path | None:
    """mouth_open over time for each method of one case, with aligned p/b/m (red) and open-vowel (green) phones
    and silences (grey) shaded; None when no method has a mouth track."""
    plt = _plt()
    rows = [e for e in evals if e.case == case and e.mouth is not None]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(11, 3.2))
    extra = rows[0].extra
    for p in extra.get("phones") or []:
        if p.phone in BILABIALS:
            ax.axvspan(p.start_s, p.end_s, color="tab:red", alpha=0.15, lw=0)
        elif p.phone in OPEN_VOWELS:
            ax.axvspan(p.start_s, p.end_s, color="tab:green", alpha=0.08, lw=0)
    for a, b in extra.get("silences") or []:
        ax.axvspan(a, b, color="grey", alpha=0.12, lw=0)
    for e in rows:
        ax.plot(np.arange(len(e.mouth)) / e.fps, e.mouth, lw=1.2, label=e.method)
    from eval.metrics.closure import CLOSED_THRESHOLD

    ax.axhline(CLOSED_THRESHOLD, color="k", ls=":", lw=0.8, label="closed threshold")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("mouth_open (face heights)")
    ax.set_title(f"{case}: inner-lip opening (red: p/b/m, green: open vowels, grey: silence)", fontsize=9)
    ax.legend(fontsize=7, ncol=len(rows) + 1, loc="upper right")
    return _save(fig, path, dpi=100, credit_case=case, credit_y=0.01)


def montage(case: str, evals, duration_s: float, path: Path) -> Path | None:
    """Frames of every method side by side (rows: methods, columns: the same instants), plus the 30-degree render
    where there is one; None when no method has frames."""
    plt = _plt()
    rows = [e for e in evals if e.case == case and e.thumbs is not None]
    if not rows:
        return None
    cols = rows[0].thumbs.shape[0] + 1
    fig, axes = plt.subplots(len(rows), cols, figsize=(1.9 * cols, 2.0 * len(rows)), squeeze=False)
    for r, e in enumerate(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            img = e.thumbs[c] if c < cols - 1 else e.turned_thumb
            if img is not None:
                ax.imshow(img)
            else:
                ax.set_facecolor("0.92")
                ax.text(0.5, 0.5, "-", ha="center", va="center", transform=ax.transAxes)
            if r == 0:
                title = f"{duration_s * c / (cols - 1):.1f} s" if c < cols - 1 else "yaw 30 deg"
                ax.set_title(title, fontsize=8)
            if c == 0:
                ax.set_ylabel(e.method, fontsize=9)
    fig.suptitle(case, fontsize=10)
    return _save(fig, path, dpi=90, credit_case=case, credit_y=0.005)


def _save(fig, path: Path, dpi: int, credit_case: str | None = None, credit_y: float = 0.01) -> Path:
    """Lay out, write and close `fig` as `path`; a GRID case (`credit_case`) gets the corpus credit at the bottom."""
    if credit_case is not None and (credit_case.startswith("grid") or "_grid" in credit_case):
        fig.text(0.01, credit_y, GRID_NOTE, fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    _plt().close(fig)
    return path
