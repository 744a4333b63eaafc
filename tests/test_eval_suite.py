"""Tests of the evaluation suite around the metrics: benchmark building, the warp2d baseline, results files, the
report, and the `python -m eval` command end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from eval.metrics import METRIC_NAMES, Score
from eval.runner import Evaluation


def _eval(case: str, method: str, **values) -> Evaluation:
    scores = {n: Score.null("not measured in this test") for n in METRIC_NAMES}
    scores.update({k: (v if isinstance(v, Score) else Score.of(v)) for k, v in values.items()})
    return Evaluation(case, method, scores)


def test_results_json_csv_and_summary(tmp_path):
    from eval.results import summarize, write_csv, write_json

    evals = [_eval("a", "m1", lpips=0.2, psnr=20.0), _eval("b", "m1", lpips=0.4, psnr=Score(math.inf, "infinite")),
             _eval("a", "gt", lpips=0.0, psnr=Score(math.inf, "infinite (identical frames)"))]
    summary, counts = summarize(evals)
    assert summary["m1"]["lpips"].value == pytest.approx(0.3) and counts["m1"]["lpips"] == 2
    assert summary["m1"]["ssim"].value is None and "not measured" in summary["m1"]["ssim"].reason
    doc = write_json(evals, tmp_path / "r.json", "bench", ["m1", "gt"], {"size": 64})
    loaded = json.loads((tmp_path / "r.json").read_text())
    assert loaded == json.loads(json.dumps(doc))
    gt = loaded["cases"][2]
    assert gt["metrics"]["psnr"] is None and gt["reasons"]["psnr"].startswith("infinite")
    assert gt["metrics"]["lpips"] == 0.0 and "lpips" not in gt["reasons"]
    assert loaded["summary"]["m1"]["lpips"] == pytest.approx(0.3)
    assert set(loaded["metrics"]) == set(METRIC_NAMES)
    write_csv(evals, tmp_path / "r.csv")
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert rows[0].startswith("case,method,face_detect_rate") and ",inf," in rows[3]


def test_report_lists_reasons_for_missing_values(tmp_path):
    from eval.report import write_report

    evals = [_eval("grid_x", "m1", lpips=0.25, csim=0.8), _eval("grid_x", "m2", lpips=0.1)]
    path = write_report(evals, tmp_path, "bench", ["m1", "m2"], {"size": 64}, {"grid_x": 3.0})
    text = path.read_text()
    assert "| ↓ lpips | 0.25 | 0.1 |" in text
    assert "n/a [1]" in text and "[1] not measured in this test" in text
    assert "CC BY 4.0" in text and (tmp_path / "figures" / "summary_bars.png").exists()


def test_report_tables_per_family_leaderboard_and_failures(tmp_path):
    from eval.report import write_report

    evals = [_eval("c", "good", lpips=0.1, psnr=30.0, naturalness=0.9), _eval("c", "bad", lpips=0.5, psnr=20.0),
             _eval("c", "groundtruth", lpips=0.0)]
    broken = _eval("d", "good")
    broken.extra.update(failed="InputError: could not read image 'd/portrait.png'",
                        worker={"host": "h1", "cpu": "AMD", "cores": 2, "gpu": None})
    text = write_report(evals + [broken], tmp_path, "b", ["good", "bad", "groundtruth"], {}, {"c": 2.0}).read_text()
    assert "**lip sync**" in text and "**image vs ground truth**" in text and "**naturalness**" in text
    board = text.split("## Leaderboard")[1]
    assert board.index("`good`") < board.index("`bad`") and "`groundtruth`" not in board.split("##")[0]
    assert "## Failures" in text and "| d | InputError: could not read image" in text
    assert "| h1 | AMD | 2 | - | 1 |" in text


def _disc_points(n: int = 468, size: int = 128) -> np.ndarray:
    rng = np.random.default_rng(0)
    r = np.sqrt(rng.uniform(0, 1, n)) * size * 0.3
    a = rng.uniform(0, 2 * np.pi, n)
    return np.column_stack([size / 2 + r * np.cos(a), size / 2 + r * np.sin(a)])


def test_warp2d_identity_and_translation():
    from eval.warp2d import FaceWarper

    rng = np.random.default_rng(1)
    photo = (rng.random((128, 128, 3)) * 255).astype(np.uint8)
    rest = _disc_points()
    warper = FaceWarper(photo, rest)
    same = warper.warp(rest)
    assert np.abs(same.astype(int) - photo).max() <= 1
    smooth = np.tile(np.linspace(0, 255, 128, dtype=np.float32)[None, :, None], (128, 1, 3)).astype(np.uint8)
    moved = FaceWarper(smooth, rest).warp(rest + [4.0, 0.0])          # face and ring shift 4 px to the right
    assert np.abs(moved[64, 64].astype(int) - smooth[64, 60]).max() <= 2


def test_make_bench_layout(tmp_path, grid_bench_data):
    from eval.bench import load_cases, make_bench

    cases = make_bench(grid_bench_data, tmp_path / "b", portraits=("p02_obama_official.jpg",),
                       clips=("a02_en_ljspeech_LJ001-0001",), grid_sentences=("bbaf2n",))
    names = [c.name for c in cases]
    assert names == ["grid_s1_bbaf2n", "p02_obama__a02_ljspeech"]
    grid = cases[0]
    assert grid.transcript == "bin blue at f two now" and grid.video is not None
    from vasa3d.io import probe_media

    info = probe_media(grid.video)
    assert info.video.n_frames == 75 and abs(info.duration_s - 3.0) < 0.1
    assert cases[1].video is None and cases[1].portrait.is_symlink()
    readme = (tmp_path / "b" / "README.md").read_text()
    assert "CC BY 4.0" in readme and "Cooke, J. Barker" in readme and "public domain" in readme
    assert [c.name for c in load_cases(tmp_path / "b", ["grid_s1_bbaf2n"])] == ["grid_s1_bbaf2n"]


def test_run_command_static_and_groundtruth(tmp_path, grid_bench_data):
    """`python -m eval run` end to end on one GRID case with the two cheap methods and an external one."""
    from eval.__main__ import main
    from eval.bench import make_bench

    bench = tmp_path / "bench"
    make_bench(grid_bench_data, bench, portraits=(), clips=(), grid_sentences=("bbaf2n",))
    ext = tmp_path / "ext"
    ext.mkdir()
    (ext / "grid_s1_bbaf2n.mp4").symlink_to((bench / "grid_s1_bbaf2n" / "video.mp4").resolve())
    out = tmp_path / "out"
    assert main(["run", "--bench", str(bench), "--methods", "static,groundtruth,copy", "--external",
                 f"copy={ext}", "--size", "128", "--lmd-landmarks", "mediapipe", "--out", str(out)]) == 0
    doc = json.loads((out / "results.json").read_text())
    rows = {r["method"]: r for r in doc["cases"]}
    gt, copy, static = rows["groundtruth"], rows["copy"], rows["static"]
    assert gt["metrics"]["lpips"] == pytest.approx(0.0, abs=1e-6) and gt["metrics"]["psnr"] is None
    assert copy["metrics"]["lpips"] == pytest.approx(0.0, abs=1e-6)
    assert gt["metrics"]["lmd"] == pytest.approx(0.0, abs=1e-9) and copy["metrics"]["lmd"] == pytest.approx(0.0, abs=1e-6)
    assert static["metrics"]["lmd"] > 1.0                          # a still mouth misses the real lips
    assert gt["lmd_landmarks"] == doc["settings"]["lmd_landmarks"] == "mediapipe"
    assert gt["metrics"]["closure_rate"] == 1.0 and abs(gt["metrics"]["av_offset_frames"]) <= 1
    assert static["metrics"]["av_offset_frames"] is None and static["metrics"]["lpips"] > 0.01
    assert static["reasons"]["csim_yaw30"] and gt["reasons"]["lse_c"].startswith("SyncNet weights not supplied")
    assert gt["metrics"]["naturalness"] == pytest.approx(1.0) and copy["metrics"]["naturalness"] == pytest.approx(1.0)
    assert static["metrics"]["naturalness"] < 0.7                  # a still photo has no lip or brow dynamics
    assert gt["phones_source"] == "transcript" and gt["worker"]["cores"] >= 1 and gt["failed"] is None
    report = (out / "report.md").read_text()
    assert "## Summary" in report and "montage_grid_s1_bbaf2n.png" in report
    assert (out / "figures" / "montage_grid_s1_bbaf2n.png").exists() and (out / "results.csv").exists()


@pytest.mark.slow
def test_run_command_vasa3d_and_warp2d(tmp_path, grid_bench_data):
    """The generating methods end to end (renders a 3-second clip twice)."""
    from eval.__main__ import main
    from eval.bench import make_bench

    bench = tmp_path / "bench"
    make_bench(grid_bench_data, bench, portraits=(), clips=(), grid_sentences=("bbaf2n",))
    out = tmp_path / "out"
    assert main(["run", "--bench", str(bench), "--methods", "vasa3d,warp2d", "--size", "192", "--out", str(out)]) == 0
    doc = json.loads((out / "results.json").read_text())
    rows = {r["method"]: r["metrics"] for r in doc["cases"]}
    assert rows["vasa3d"]["face_detect_rate"] > 0.9 and rows["vasa3d"]["csim_yaw30"] is not None
    assert rows["warp2d"]["render_fps"] > 0 and rows["warp2d"]["csim_yaw30"] is None
    from eval.bench import load_cases
    from eval.methods import video_key

    (case,) = load_cases(bench)                      # videos are cached under a content hash of their inputs
    assert [p.name for p in (out / "videos" / "vasa3d").glob("*.mp4")] == [f"{video_key('vasa3d', case, 192)}.mp4"]


def test_head_check_reports_the_head_models_targets_on_a_portrait(capsys, tmp_path):
    """`python -m eval head-check PORTRAIT` prints the tracker figures of the head-model issue, and they meet it."""
    import json

    from eval.__main__ import main
    from conftest import data

    sheet = tmp_path / "sheet.png"
    assert main(["head-check", str(data("portraits/p02_obama_official.jpg")), "--sheet", str(sheet)]) == 0
    figures = json.loads(capsys.readouterr().out)["p02_obama_official.jpg"]
    assert abs(figures["rest_gap"]) < 0.03 and figures["jaw_gap"] >= 0.12
    assert figures["blink_ratio"] <= 0.25 and figures["background_in_mouth"] < 0.01 and figures["drift_px"] < 2.0
    assert figures["overhang"] < 0.005 and figures["mouth_chroma_excess"] <= 5
    assert 0.5 < figures["id_yaw_m30"] <= 1.0 and 0.5 < figures["id_yaw_p30"] <= 1.0
    from vasa3d.io.image import read_image
    assert read_image(sheet).shape[:2] == (192, 6 * 192)
    with pytest.raises(SystemExit, match="no such portrait"):
        main(["head-check", "no/such/file.jpg"])
