"""Results files: `results.csv` (one row per case and method), `results.json` and the per-method summary.

JSON layout:
    {"bench": str, "methods": [...], "settings": {...},
     "metrics": {name: {"direction", "group", "unit", "definition"}},
     "cases": [{"case", "method", "metrics": {name: number | null}, "reasons": {name: why null},
                "phones_source": "transcript" | "recognition" | "none", "worker": {host, cpu, cores, ...},
                "lmd_landmarks": which lip landmarks LMD used (`eval.metrics.lmd`) or null without a real video,
                "case_seconds": float, "case_cpu_seconds": float (user + system, with child programs),
                "failed": error or null}],
     "summary": {method: {name: mean | null}}, "summary_n": {method: {name: cases averaged}},
     "summary_reasons": {method: {name: why null}}}
A metric whose value is +inf (PSNR of identical frames, MSI of a still track) is stored as null with the reason
"infinite (...)"; the CSV writes "inf". The summary is the mean over the cases where the metric is a number
(+inf if any of them is +inf); null with the reasons when no case has a number.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from eval.metrics import METRIC_NAMES, METRICS, Score


def summarize(evals) -> tuple[dict, dict]:
    """({method: {name: Score of the mean}}, {method: {name: number of cases averaged}}) in first-seen order."""
    methods = list(dict.fromkeys(e.method for e in evals))
    summary, counts = {}, {}
    for m in methods:
        rows = [e for e in evals if e.method == m]
        summary[m], counts[m] = {}, {}
        for n in METRIC_NAMES:
            vals = [r.scores[n].value for r in rows if r.scores[n].value is not None]
            counts[m][n] = len(vals)
            if vals:
                mean = float(np.mean(vals))
                summary[m][n] = Score(mean, "infinite" if math.isinf(mean) else None)
            else:
                reasons = sorted({r.scores[n].reason or "?" for r in rows})
                summary[m][n] = Score.null("; ".join(reasons))
    return summary, counts


def _json_value(s: Score):
    return s.value if s.value is not None and math.isfinite(s.value) else None


def _json_reason(s: Score) -> str | None:
    if s.value is not None and math.isinf(s.value):
        return s.reason or "infinite"
    return s.reason if s.value is None else None


def write_json(evals, path: Path, bench: str, methods: list[str], settings: dict) -> dict:
    """Write results.json (layout in the module docstring); returns the dict written."""
    summary, counts = summarize(evals)
    doc = {
        "bench": bench, "methods": methods, "settings": settings,
        "metrics": {m.name: {"direction": m.direction, "group": m.group, "unit": m.unit, "definition": m.summary}
                    for m in METRICS},
        "cases": [{"case": e.case, "method": e.method,
                   "metrics": {n: _json_value(e.scores[n]) for n in METRIC_NAMES},
                   "reasons": {n: r for n in METRIC_NAMES if (r := _json_reason(e.scores[n]))},
                   "phones_source": e.extra.get("phones_source", "none"), "worker": e.extra.get("worker"),
                   "case_seconds": e.extra.get("case_seconds"), "case_cpu_seconds": e.extra.get("case_cpu_seconds"),
                   "failed": e.extra.get("failed"),
                   "ratios_to_real": e.extra.get("ratios_to_real"),
                   "lmd_landmarks": e.extra.get("lmd_landmarks")} for e in evals],
        "summary": {m: {n: _json_value(s) for n, s in v.items()} for m, v in summary.items()},
        "summary_n": counts,
        "summary_reasons": {m: {n: r for n, s in v.items() if (r := _json_reason(s))} for m, v in summary.items()},
    }
    path.write_text(json.dumps(doc, indent=1, allow_nan=False), encoding="utf-8")
    return doc


def write_csv(evals, path: Path) -> None:
    """Write results.csv: case, method, one column per metric (number, "inf", or empty for null)."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["case", "method", *METRIC_NAMES])
        for e in evals:
            cells = []
            for n in METRIC_NAMES:
                v = e.scores[n].value
                cells.append("" if v is None else "inf" if math.isinf(v) else f"{v:.6g}")
            w.writerow([e.case, e.method, *cells])
