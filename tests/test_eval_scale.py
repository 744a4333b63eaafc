"""Tests of evaluation at scale: benchmarks from real videos, phones without a transcript, the content-hash video
cache, the job runner (in process and on a real local Ray runtime), SyncNet plumbing and `vasa3d batch`."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import GRID_EXCERPT, data

from eval.bench import Case


@pytest.fixture(scope="module")
def video_bench(tmp_path_factory) -> Path:
    """A bench cut by `make-bench --from-videos` from the 3 s GRID excerpt (one 2.4 s clip, no transcript)."""
    from eval.from_videos import make_bench_from_videos

    root = tmp_path_factory.mktemp("from_videos")
    (root / "videos").mkdir()
    shutil.copy(data(GRID_EXCERPT), root / "videos" / "grid clip.mp4")
    make_bench_from_videos(root / "videos", root / "bench", clip_s=2.4, size=256)
    return root / "bench"


def test_make_bench_from_videos_layout_and_face_centred_crop(video_bench):
    from vasa3d.io import probe_media, read_image_u8

    from eval.bench import load_cases
    from eval.tracking import track_image

    (case,) = load_cases(video_bench)
    assert case.name == "grid_clip_000" and case.transcript is None and case.video is not None
    prov = json.loads((video_bench / case.name / "case.json").read_text())
    assert prov["start_s"] == 0.0 and prov["end_s"] == 2.4 and len(prov["source_sha256"]) == 64
    x, y, w, h = prov["crop_xywh"]
    assert w == h and x >= 0 and y >= 0 and x + w <= 360 and y + h <= 288
    info = probe_media(case.video)
    assert (info.video.width, info.video.height) == (256, 256) and abs(info.duration_s - 2.4) < 0.1
    lm = track_image(read_image_u8(case.portrait))
    centre = 0.5 * (lm[:, :2].min(0) + lm[:, :2].max(0))
    assert abs(centre[0] - 128) < 20 and 64 < centre[1] < 192, centre   # face in the middle (the square may be
    #                                                                       clamped at the frame's bottom edge)
    assert "grid_clip_000" in (video_bench / "README.md").read_text()


def test_make_bench_from_videos_rejects_an_empty_folder(tmp_path):
    from eval.from_videos import make_bench_from_videos

    with pytest.raises(FileNotFoundError, match="no video"):
        make_bench_from_videos(tmp_path, tmp_path / "out")
    with pytest.raises(ValueError, match="clip-s"):
        make_bench_from_videos(tmp_path, tmp_path / "out", clip_s=0.5)


def test_phones_by_recognition_without_a_transcript():
    """Without a transcript the phones come from recognition (flagged), and include the sentence's bilabials."""
    from vasa3d.io import read_audio

    from eval.speech import BILABIALS, case_phones

    wave = read_audio(data(GRID_EXCERPT), sr=16000)
    phones, why, source = case_phones(wave, None)
    assert source == "recognition" and why is None
    assert any(p.phone in BILABIALS for p in phones) and all(p.phone != "SIL" for p in phones)
    phones2, _, source2 = case_phones(wave, "bin blue at f two now")
    assert source2 == "transcript" and [p.phone for p in phones2 if p.phone in BILABIALS] == ["B", "B"]


def test_video_cache_is_keyed_by_content_not_name(tmp_path):
    from eval.methods import video_key

    portrait, audio = data("portraits/p02_obama_official.jpg"), data("audio/a02_en_ljspeech_LJ001-0001.wav")
    copy = tmp_path / "renamed.jpg"
    shutil.copy(portrait, copy)
    a = video_key("static", Case("one", portrait, audio, None, None), 256)
    assert a == video_key("static", Case("two", copy, audio, None, None), 256)
    assert a != video_key("static", Case("one", portrait, data("audio/a01_en_jfk_inaugural.wav"), None, None), 256)
    assert a != video_key("static", Case("one", portrait, audio, None, None), 128)
    assert a != video_key("warp2d", Case("one", portrait, audio, None, None), 256)


def test_run_jobs_in_process_keeps_failures_with_reasons():
    from vasa3d.batch import run_jobs

    res = run_jobs(math.sqrt, [4.0, -1.0, 9.0])
    assert [r.value for r in res] == [2.0, None, 3.0]
    assert res[1].error == "ValueError: math domain error" and res[0].ok and not res[1].ok
    assert res[0].hardware["cores"] >= 1 and "cpu" in res[0].hardware
    with pytest.raises(ValueError):
        run_jobs(math.sqrt, [1.0], workers=0)


def test_run_jobs_records_cpu_seconds_and_submits_longest_first(monkeypatch):
    from vasa3d import batch

    (res,) = batch.run_jobs(math.factorial, [60000])
    assert 0.0 < res.cpu_seconds < 60 and res.ok
    seen = {}
    monkeypatch.setattr(batch, "_run_on_ray", lambda fn, jobs, order, *a: seen.setdefault("order", order))
    batch.run_jobs(math.sqrt, [1.0, 9.0, 4.0, 9.0], workers=2, cost=lambda x: x)
    assert seen["order"] == [1, 3, 2, 0]                   # decreasing cost, ties in job order


def test_run_jobs_on_a_local_ray_runtime_matches_in_process():
    """Two workers on a real local Ray runtime (`ray.init(num_cpus=2)`): same values in job order, the failure
    kept with its reason, each result with its worker's hardware."""
    pytest.importorskip("ray")
    from vasa3d.batch import run_jobs

    jobs = [float(x) for x in (16, -4, 25, 36)]
    res = run_jobs(math.sqrt, jobs, workers=2)
    assert [r.value for r in res] == [r.value for r in run_jobs(math.sqrt, jobs)] == [4.0, None, 5.0, 6.0]
    assert "math domain error" in res[1].error and res[2].hardware["host"]
    names = ["NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "OPENCV_FOR_THREADS_NUM"]
    env = [r.value for r in run_jobs(os.getenv, names, workers=2)]   # read inside the workers
    assert env == ["1", "1", "PASSIVE", "1"]  # one thread per pool in a one-CPU task


def test_evaluate_cases_reports_a_failed_case_and_keeps_the_others(tmp_path, video_bench):
    from eval.bench import load_cases
    from eval.runner import CaseJob, evaluate_cases

    (good,) = load_cases(video_bench)
    bad_dir = tmp_path / "broken"
    bad_dir.mkdir()
    (bad_dir / "portrait.png").write_bytes(b"not an image")
    bad = Case("broken", bad_dir / "portrait.png", good.audio, None, None)
    jobs = [CaseJob(bad, ("groundtruth",), tmp_path / "out", 128),
            CaseJob(good, ("groundtruth",), tmp_path / "out", 128)]
    evals = evaluate_cases(jobs)
    assert [(e.case, e.method) for e in evals] == [("broken", "groundtruth"), ("grid_clip_000", "groundtruth")]
    assert evals[0].scores["psnr"].reason.startswith("case failed: InputError")
    real = evals[1]
    assert real.extra["phones_source"] == "recognition" and real.extra["worker"]["cores"] >= 1
    assert real.scores["face_detect_rate"].value == 1.0
    assert real.scores["closure_rate"].value is not None           # from recognised phones, no transcript


# ---------------------------------------------------------------- SyncNet (LSE-C / LSE-D)
def _random_syncnet(path: Path, prefix: str = "__S__.", drop: str | None = None) -> Path:
    import torch

    from eval.metrics.syncnet import _model_class

    torch.manual_seed(0)
    state = {prefix + k: v for k, v in _model_class()().state_dict().items() if k != drop}
    torch.save(state, path)
    return path


@pytest.mark.slow
def test_syncnet_random_weights_give_finite_lse_and_none_gives_null(tmp_path):
    if importlib.util.find_spec("syncnet_python") is None or importlib.util.find_spec("python_speech_features") is None:
        pytest.skip("syncnet-python / python_speech_features not installed (requirements-eval.txt)")
    from vasa3d.io import read_audio, read_video

    import torch

    from eval.metrics.syncnet import load_syncnet, lse
    from eval.tracking import track_video

    frames, fps = read_video(data(GRID_EXCERPT), max_frames=9)
    track = track_video(frames, fps)
    wave = read_audio(data(GRID_EXCERPT), sr=16000)[:int(9 / fps * 16000)]
    c, d = lse(_random_syncnet(tmp_path / "syncnet_v2.model"), frames, track, wave)
    assert math.isfinite(c.value) and c.value >= 0 and math.isfinite(d.value) and d.value > 0
    bare = load_syncnet(_random_syncnet(tmp_path / "bare.model", prefix=""))     # keys without "__S__."
    same = load_syncnet(tmp_path / "syncnet_v2.model")
    assert all(torch.equal(a, b) for a, b in zip(bare.state_dict().values(), same.state_dict().values()))
    c0, d0 = lse(None, frames, track, wave)
    assert c0.value is None and "not supplied" in c0.reason and d0.value is None


def test_syncnet_weights_load_strictly(tmp_path):
    if importlib.util.find_spec("syncnet_python") is None:
        pytest.skip("syncnet-python not installed (requirements-eval.txt)")
    from vasa3d.errors import InputError

    from eval.metrics.syncnet import load_syncnet

    with pytest.raises(InputError, match="does not match SyncNet"):
        load_syncnet(_random_syncnet(tmp_path / "partial.model", drop="netfcaud.3.bias"))
    with pytest.raises(InputError, match="not found"):
        load_syncnet(tmp_path / "missing.model")
    (tmp_path / "junk.model").write_bytes(b"junk")
    with pytest.raises(InputError, match="could not read"):
        load_syncnet(tmp_path / "junk.model")


# ---------------------------------------------------------------- vasa3d batch
def test_batch_command_validates_every_row_before_work(tmp_path, capsys):
    from vasa3d.cli import main

    jobs = tmp_path / "jobs.csv"
    portrait, audio = data("portraits/p02_obama_official.jpg"), data("audio/a02_en_ljspeech_LJ001-0001.wav")
    jobs.write_text(f"image,audio,output,size\n{portrait},{audio},a.mp4,128\n{portrait},missing.wav,b.mp4,128\n")
    assert main(["batch", str(jobs)]) == 2
    assert "line 3" in capsys.readouterr().err and not (tmp_path / "a.mp4").exists()
    jobs.write_text(f"image,audio,output,size\n{portrait},{audio},a.mp4,13\n")
    assert main(["batch", str(jobs)]) == 2 and "line 2" in capsys.readouterr().err
    jobs.write_text(f"image,audio,output,colour\n{portrait},{audio},a.mp4,red\n")
    assert main(["batch", str(jobs)]) == 2 and "unknown: colour" in capsys.readouterr().err


@pytest.mark.slow
def test_batch_command_makes_the_videos(tmp_path, capsys):
    from vasa3d.cli import main
    from vasa3d.io import probe_media

    jobs = tmp_path / "jobs.csv"
    portrait, audio = data("portraits/p02_obama_official.jpg"), data("audio/a02_en_ljspeech_LJ001-0001.wav")
    jobs.write_text(f"image,audio,output,size,seed\n{portrait},{audio},a.mp4,96,1\n")
    assert main(["batch", str(jobs)]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["error"] is None and row["hardware"]["cores"] >= 1
    assert probe_media(tmp_path / "a.mp4").video.width == 96


# ---------------------------------------------------------------- self-reenactment protocol
class _DarkerCopy:
    """A fake drivable method: the driving video at 85% brightness (same motion, different pixels)."""

    name = "fake"

    def drive(self, case, driving_video, out_path):
        from vasa3d.io import read_audio, read_video, write_video

        from eval.methods import MethodVideo

        frames, fps = read_video(driving_video)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        write_video(out_path, (frames * 0.85).astype(np.uint8), fps, read_audio(driving_video, sr=16000), 16000)
        return MethodVideo(out_path)


def test_reenactment_protocol_scores_drivable_methods_under_the_real_motion(tmp_path, video_bench):
    from eval.bench import load_cases
    from eval.reenact import GroundTruthDrive, Vasa3dReenact, reenact_available
    from eval.runner import evaluate_case

    (case,) = load_cases(video_bench)
    evals = evaluate_case(case, [], tmp_path, 128, {},
                          reenact={"fake": _DarkerCopy(), "groundtruth": GroundTruthDrive(), "vasa3d": Vasa3dReenact()})
    rows = {e.method: e.scores for e in evals}
    assert set(rows) == {"fake@reenact", "groundtruth@reenact", "vasa3d@reenact"}
    assert rows["groundtruth@reenact"]["psnr"].value == math.inf
    assert 15 < rows["fake@reenact"]["psnr"].value < 40 and rows["fake@reenact"]["ssim"].value > 0.8
    assert rows["groundtruth@reenact"]["lmd"].value == pytest.approx(0.0, abs=1e-9)
    assert 0.0 < rows["fake@reenact"]["lmd"].value < 1.5       # same lips, only the tracker's noise on darker frames
    if not reenact_available():
        assert rows["vasa3d@reenact"]["psnr"].reason == "reenact not available"
    else:                                   # `vasa3d reenact` drives the portrait's avatar by the real video
        assert 10 < rows["vasa3d@reenact"]["psnr"].value < 40, rows["vasa3d@reenact"]["psnr"]
    no_video = Case("no_video", case.portrait, case.audio, None, None)
    assert evaluate_case(no_video, [], tmp_path, 128, {}, reenact={"fake": _DarkerCopy()}) == []
