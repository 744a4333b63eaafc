"""Evaluation suite for vasa3d: benchmarks, baselines, metrics and reports (`python -m eval ...`).

- `python -m eval make-bench --from DATA --out BENCH` builds benchmark cases (`eval.bench`).
- `python -m eval run --bench BENCH --methods vasa3d,static,warp2d,groundtruth --out OUT` makes or finds one video
  per case and method (`eval.methods`, `eval.warp2d`), tracks it with an independent face tracker
  (`eval.tracking`), scores it (`eval.metrics`, one module per metric) and writes results and a report
  (`eval.results`, `eval.report`, `eval.plots`).

This package imports vasa3d; vasa3d never imports it. Nothing heavy loads at import.
"""

import vasa3d  # noqa: E402,F401 - first, so its OpenMP settings (vasa3d/__init__.py) precede torch's runtime
