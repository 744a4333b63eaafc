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
    """Markdown tables, one per metric family (group): rows = metrics, columns = methods;
    get(method, name) -> (Score, n, total)."""
    notes = _Notes()
    out = []
    for group in dict.fromkeys(m.group for m in METRICS):
        out += [f"**{group}**", "", "| metric | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
        for m in (m for m in METRICS if m.group == group):
            cells = [_cell(*get(meth, m.name), notes=notes) for meth in methods]
            unit = f" ({m.unit})" if m.unit else ""
            out.append(f"| {ARROWS[m.direction]} {m.name}{unit} | " + " | ".join(cells) + " |")
        out.append("")
    return out + notes.lines()


def _leaderboard(summary: dict, methods: list[str]) -> list[str]:
    """Methods ranked by their mean rank over the ↑/↓ metrics outside speed (ties share the better rank); ≈ metrics
    are ranked by the distance to `groundtruth` where it was run. The real video itself is not ranked."""
    ranked = [m for m in methods if not m.startswith("groundtruth")]
    if len(ranked) < 2:
        return []
    ranks: dict[str, list[float]] = {m: [] for m in ranked}
    for info in METRICS:
        if info.group == "speed":
            continue
        vals = {m: summary[m][info.name].value for m in ranked}
        real = summary.get("groundtruth", {}).get(info.name)
        if info.direction == "closer to ground truth":
            if real is None or real.value is None:
                continue
            vals = {m: (None if v is None else -abs(v - real.value)) for m, v in vals.items()}
        elif info.direction == "lower":
            vals = {m: (None if v is None else -v) for m, v in vals.items()}
        have = {m: v for m, v in vals.items() if v is not None and not math.isnan(v)}
        if len(have) < 2:
            continue
        for m, v in have.items():
            ranks[m].append(1 + sum(1 for w in have.values() if w > v))
    rows = sorted(((sum(r) / len(r), len(r), m) for m, r in ranks.items() if r), key=lambda t: t[0])
    lines = ["## Leaderboard", "", "Mean rank over the ↑/↓ metrics and the ≈ metrics (distance to the real video) "
             "where at least two methods have a value; speed is left out. 1 = best.", "",
             "| place | method | mean rank | metrics ranked | naturalness |", "|---|---|---|---|---|"]
    for i, (r, n, m) in enumerate(rows, start=1):
        nat = summary[m]["naturalness"].value if "naturalness" in summary[m] else None
        lines.append(f"| {i} | `{m}` | {r:.2f} | {n} | {'n/a' if nat is None else f'{nat:.3g}'} |")
    return lines + [""]


def _failures(evals) -> list[str]:
    """Per-case failures (a case whose evaluation raised) and the machines that ran the cases."""
    failed = {(e.case, e.extra.get("failed")) for e in evals if e.extra.get("failed")}
    lines = []
    if failed:
        lines += ["## Failures", "", "| case | reason |", "|---|---|"]
        lines += [f"| {c} | {why.splitlines()[0]} |" for c, why in sorted(failed)] + [""]
    machines = {}
    for e in evals:
        w = e.extra.get("worker") or {}
        if w:
            key = (w.get("host"), w.get("cpu"), w.get("cores"), w.get("gpu"))
            machines.setdefault(key, set()).add(e.case)
    if machines:
        lines += ["## Machines", "", "Speed figures are per machine: each case ran on one of these.", "",
                  "| host | cpu | cores | gpu | cases |", "|---|---|---|---|---|"]
        lines += [f"| {h} | {c} | {n} | {g or '-'} | {len(cs)} |" for (h, c, n, g), cs in machines.items()] + [""]
    return lines


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
    lines += [""] + _leaderboard(summary, shown) + _failures(evals)
    bars = summary_bars(summary, figs / "summary_bars.png")
    if bars:
        lines += ["", f"![summary bar charts](figures/{bars.name})", ""]
    lines += ["## Per case", ""]
    for case in cases:
        rows = {e.method: e for e in evals if e.case == case}
        meths = [m for m in shown if m in rows]
        src = next((e.extra.get("phones_source") for e in evals if e.case == case and e.extra.get("phones_source")),
                   "none")
        how = {"transcript": "aligned to the transcript", "recognition": "recognised from the audio (no transcript; "
               "phone error ~0.55)"}.get(src, "none")
        lips = next((e.extra["lmd_landmarks"] for e in evals if e.case == case and e.extra.get("lmd_landmarks")), None)
        lips = f" LMD landmarks: {lips}." if lips else ""
        lines += [f"### {case}", "", f"Audio {durations.get(case, float('nan')):.1f} s. Phones: {how}.{lips}", ""]
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
              "- `av_offset_frames` is searched within ±10 frames and is null without a clear peak; on 10 s clips of "
              "real video it is right within 1 frame, on 3 s sentences it can miss. Its mean over cases can hide "
              "offsets of opposite sign: read the per-case values.",
              "- Phones recognised without a transcript (per case above) make `closure_rate` and `vowel_openness` "
              "rougher than phones aligned to a transcript.",
              "- Speed is wall-clock time on this machine, whose cores are shared with other work; the first vasa3d "
              "case also loads the compiled rasterizer kernels.", ""]
    lines += ["## Metrics", "", "| metric | better | unit | definition |", "|---|---|---|---|"]
    lines += [f"| {m.name} | {ARROWS[m.direction]} {m.direction} | {m.unit} | {m.summary} |" for m in METRICS]
    lines += ["", "Exact definitions and sources: the docstring of each module in `eval/metrics/`.", "",
              "## Credits", "", f"Frames and sound of the GRID cases and portraits come from the {GRID_NOTE}.", ""]
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
