"""`report.md`: the summary table, per-case tables, figures, why values are missing, and what each metric means.

Cells show the value (3 significant digits), "inf" for an infinite value, or "n/a [k]" with footnote k giving the
reason. Arrows: ↑ higher is better, ↓ lower is better, ≈ closer to the real video is better.
"""

from __future__ import annotations

import math
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

from eval.metrics import METRICS, Score
from eval.plots import GRID_NOTE, montage, mouth_curves, summary_bars
from eval.results import summarize

ARROWS = {"higher": "↑", "lower": "↓", "closer to ground truth": "≈"}


class _Notes:
    """Numbered footnotes of one table."""

    def __init__(self):
        self.items: list[str] = []

    def ref(self, reason: str) -> int:
        if reason not in self.items:
            self.items.append(reason)
        return self.items.index(reason) + 1

    def lines(self) -> list[str]:
        return [f"[{i + 1}] {r}  " for i, r in enumerate(self.items)]


def _cell(s: Score, n: int | None, total: int | None, notes: _Notes) -> str:
    if s.value is None:
        return f"n/a [{notes.ref(s.reason or 'unknown')}]"
    text = "inf" if math.isinf(s.value) else f"{s.value:.3g}"
    if n is not None and total is not None and n < total:
        text += f" ({n}/{total})"
    return text


def _table(methods: list[str], get) -> list[str]:
    """Markdown table: rows = metrics, columns = methods; get(method, name) -> (Score, n, total)."""
    notes = _Notes()
    head = ["| metric | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    body = []
    for m in METRICS:
        cells = [_cell(*get(meth, m.name), notes=notes) for meth in methods]
        unit = f" ({m.unit})" if m.unit else ""
        body.append(f"| {ARROWS[m.direction]} {m.name}{unit} | " + " | ".join(cells) + " |")
    return head + body + [""] + notes.lines()


def _truth_summary(evals, methods: list[str], num_cases: int) -> list[str]:
    """The summary table again over only the cases with a real video, when there are some but not all."""
    with_truth = {e.case for e in evals if e.method == "groundtruth"}
    if not with_truth or len(with_truth) == num_cases:
        return []
    sub = [e for e in evals if e.case in with_truth]
    summary, counts = summarize(sub)
    meths = [m for m in methods if m in summary]
    total = {m: sum(1 for e in sub if e.method == m) for m in meths}
    names = ", ".join(f"`{c}`" for c in sorted(with_truth))
    return ["", f"### Summary over the {len(with_truth)} cases with a real video ({names})", "",
            "Self-reenactment: the portrait is the video's first frame and the audio its sound, so every method can be "
            "compared with the real video (image metrics, and the ≈ metrics against `groundtruth`).", ""] + \
        _table(meths, lambda m, n: (summary[m][n], counts[m][n], total[m]))


def write_report(evals, out: Path, bench: str, methods: list[str], settings: dict, durations: dict[str, float]
                 ) -> Path:
    """Write `out/report.md` and its figures (`out/figures/*.png`); returns the report's path."""
    figs = out / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    summary, counts = summarize(evals)
    shown = [m for m in methods if m in summary]
    cases = list(dict.fromkeys(e.case for e in evals))
    ncases = {m: sum(1 for e in evals if e.method == m) for m in shown}
    lines = [
        "# Evaluation report", "",
        f"Benchmark `{bench}`: {len(cases)} cases; methods {', '.join(f'`{m}`' for m in shown)}. "
        f"Settings: {', '.join(f'{k} = {v}' for k, v in settings.items())}. "
        f"Made {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()} with "
        f"{os.cpu_count()} CPU cores (shared).", "",
        "How to read: ↑ higher is better, ↓ lower is better, ≈ closer to the real video (`groundtruth`) is "
        "better. "
        "\"n/a [k]\": the metric does not apply, footnote k says why; \"(n/N)\": mean over the n of N cases where it "
        "applies. Definitions are at the end and in the README.", "",
        "## Summary (mean over cases)", "",
    ]
    lines += _table(shown, lambda m, n: (summary[m][n], counts[m][n], ncases[m]))
    lines += _truth_summary(evals, shown, len(cases))
    bars = summary_bars(summary, figs / "summary_bars.png")
    if bars:
        lines += ["", f"![summary bar charts](figures/{bars.name})", ""]
    lines += ["## Per case", ""]
    for case in cases:
        rows = {e.method: e for e in evals if e.case == case}
        meths = [m for m in shown if m in rows]
        lines += [f"### {case}", "", f"Audio {durations.get(case, float('nan')):.1f} s.", ""]
        lines += _table(meths, lambda m, n: (rows[m].scores[n], None, None))
        mont = montage(case, evals, durations.get(case, 0.0), figs / f"montage_{case}.png")
        if mont:
            lines += ["", f"![frames of each method]({'figures/' + mont.name})", ""]
        curve = mouth_curves(case, evals, figs / f"mouth_{case}.png")
        if curve:
            lines += [f"![mouth opening over time]({'figures/' + curve.name})", ""]
        if case.startswith("grid") or "_grid" in case:
            lines += [f"*{GRID_NOTE}.*", ""]
    lines += ["## Reading notes", "",
              "- `static` shows the tracker's noise floor: where a still photo scores above 0 (wobble, "
              "head_motion_dynamics, silence_lip_motion), that much is MediaPipe's jitter, not motion.",
              "- `av_offset_frames` needs several syllables; over a 3-second sentence it can miss by several frames. "
              "Its mean over cases can hide offsets of opposite sign: read the per-case values.",
              "- Speed is wall-clock time on this machine, whose cores are shared with other work; the first vasa3d "
              "case also loads the compiled rasterizer kernels.", ""]
    lines += ["## Metrics", "", "| metric | better | unit | definition |", "|---|---|---|---|"]
    lines += [f"| {m.name} | {ARROWS[m.direction]} {m.direction} | {m.unit} | {m.summary} |" for m in METRICS]
    lines += ["", "Exact definitions and sources: the docstring of each module in `eval/metrics/`.", "",
              "## Credits", "", f"Frames and sound of the GRID cases and portraits come from the {GRID_NOTE}.", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
