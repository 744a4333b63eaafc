"""The Gradio app driven through its real interface (the button's handler, and the served HTTP API) with a
mock pipeline: no rendering, no face models."""

from __future__ import annotations

import inspect

import importlib.util
import socket
import threading
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from vasa3d.errors import InputError
from vasa3d.pipeline import TalkRequest, TalkResult

# app.py sits at the repository root, outside the package: load it by path, whatever the working directory.
_spec = importlib.util.spec_from_file_location("app", Path(__file__).resolve().parents[1] / "app.py")
app = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(app)

PORTRAIT = np.full((64, 64, 3), 128, np.uint8)


class MockPipeline:
    """Records each request, reports progress, writes a placeholder file at the request's output path."""

    def __init__(self, error: Exception | None = None):
        self.requests: list[TalkRequest] = []
        self.progress: list[tuple[float, str]] = []
        self.error = error
        self._lock = threading.Lock()

    def run(self, request: TalkRequest, progress=None) -> TalkResult:
        with self._lock:
            self.requests.append(request)
        if self.error is not None:
            raise self.error
        for fraction, message in ((0.0, "reading"), (0.5, "rendering"), (1.0, "done")):
            progress(fraction, message)
        request.output.write_bytes(b"placeholder mp4")
        return TalkResult(video=request.output, num_frames=3, duration_s=0.12, backend="mock",
                          num_gaussians=1234, timings={"avatar_s": 0.5, "total_s": 1.0})


class RecordingProgress:
    def __init__(self):
        self.calls: list[tuple[float, str]] = []

    def __call__(self, fraction, desc=None):
        self.calls.append((fraction, desc))


def call(handler, **overrides):
    """The handler with the UI's default-like values, `overrides` replacing some."""
    values = dict(image=PORTRAIT, audio=None, text="Hello there.", transcript="", yaw_deg=0, pitch_deg=0,
                  camera_path="fixed", expression_scale=1.0, head_motion_scale=1.0, seed=0, size=256,
                  progress=RecordingProgress())
    values.update(overrides)
    out = handler(**values)
    return list(out)[-1] if inspect.isgenerator(out) else out   # the final outputs of a streaming handler


@pytest.fixture
def wav(tmp_path) -> str:
    from vasa3d.io.audio import write_wav

    path = tmp_path / "speech.wav"
    write_wav(path, 0.1 * np.sin(np.linspace(0, 200, 8000, dtype=np.float32)), 16000)
    return str(path)


def test_build_demo_returns_blocks_without_running_the_pipeline():
    mock = MockPipeline()
    assert isinstance(app.build_demo(mock), gr.Blocks)
    assert mock.requests == []


def test_widget_values_reach_the_request(wav):
    mock, progress = MockPipeline(), RecordingProgress()
    video, status, *exports = call(app.make_handler(mock), audio=wav, transcript=" the words ", yaw_deg=20, pitch_deg=-10,
                         camera_path="orbit", expression_scale=1.5, head_motion_scale=0.25, seed=7.0, size=384,
                         progress=progress)
    (request,) = mock.requests
    assert (request.yaw_deg, request.pitch_deg, request.camera_path) == (20.0, -10.0, "orbit")
    assert (request.expression_scale, request.head_motion_scale, request.seed, request.size) == (1.5, 0.25, 7, 384)
    assert isinstance(request.seed, int)
    assert request.audio == wav and request.transcript == "the words" and request.phones is None
    assert request.image is PORTRAIT
    assert Path(video) == request.output and Path(video).is_file()
    assert "mock" in status and "1,234 Gaussians" in status and "3 frames" in status and "avatar 0.5 s" in status
    assert progress.calls[:3] == [(0.0, "reading"), (0.5, "rendering"), (1.0, "done")]
    assert exports[1:-1] == [None] * 4 and "vasa3d-viewer" in exports[0]   # the mock gives no avatar to export
    assert Path(exports[-1]) == request.output                             # the mp4 download


def test_text_only_is_spoken_and_its_phones_passed():
    mock = MockPipeline()
    call(app.make_handler(mock), audio=None, text="  Hello, world.  ")
    (request,) = mock.requests
    wave, sr = request.audio
    assert sr > 0 and wave.ndim == 1 and wave.size > sr // 4
    assert request.transcript == "Hello, world."
    assert request.phones and {"h", "l"} <= {p.phone for p in request.phones}
    assert request.phones[-1].end_s == pytest.approx(wave.size / sr, abs=1e-3)


def test_recording_takes_precedence_over_text(wav):
    mock = MockPipeline()
    call(app.make_handler(mock), audio=wav, text="ignored", transcript="")
    assert mock.requests[0].audio == wav and mock.requests[0].transcript is None
    assert mock.requests[0].phones is None


def test_pipeline_input_error_becomes_gr_error_with_its_message():
    handler = app.make_handler(MockPipeline(error=InputError("no face found in the portrait; use a frontal photo")))
    with pytest.raises(gr.Error, match="no face found in the portrait; use a frontal photo"):
        call(handler)


@pytest.mark.parametrize("overrides, message", [
    ({"image": None}, "portrait"),
    ({"audio": None, "text": "   "}, "speech"),
])
def test_missing_input_gives_gr_error_and_no_request(overrides, message):
    mock = MockPipeline()
    with pytest.raises(gr.Error, match=message):
        call(app.make_handler(mock), **overrides)
    assert mock.requests == []


def test_each_request_writes_to_its_own_directory(wav):
    mock = MockPipeline()
    handler = app.make_handler(mock)
    first = call(handler, audio=wav)[0]
    second = call(handler, audio=wav)[0]
    assert Path(first).parent != Path(second).parent
    assert Path(first).is_file() and Path(second).is_file()


def test_example_portrait_is_the_astronaut():
    from PIL import Image

    path = app.example_portrait_path()
    assert app.example_portrait_path() == path
    assert Image.open(path).size == (512, 512)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_served_api_returns_the_video(wav, tmp_path):
    client_module = pytest.importorskip("gradio_client")
    mock = MockPipeline()
    demo = app.build_demo(mock)
    port = _free_port()
    try:
        demo.queue().launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    except OSError as error:  # e.g. the port was taken between _free_port and launch
        pytest.skip(f"could not start a local gradio server: {error}")
    try:
        client = client_module.Client(f"http://127.0.0.1:{port}/", verbose=False,
                                      download_files=str(tmp_path / "downloads"))
        video, status, *_ = client.predict(client_module.handle_file(app.example_portrait_path()),
                                       client_module.handle_file(wav), "", "hello", 15, 5, "sway", 0.5, 1.25, 3, 256,
                                       api_name="/generate")
    finally:
        demo.close()
    (request,) = mock.requests
    assert (request.yaw_deg, request.pitch_deg, request.camera_path, request.seed) == (15.0, 5.0, "sway", 3)
    assert request.image.shape == (512, 512, 3)
    assert request.transcript == "hello"
    video_path = Path(video["video"] if isinstance(video, dict) else video)  # gr.Video: {"video", "subtitles"}
    assert video_path.name == app.OUTPUT_NAME and video_path.read_bytes() == b"placeholder mp4"
    assert "1,234 Gaussians" in status


def test_old_request_directories_are_pruned(monkeypatch, tmp_path):
    import os
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    old = tmp_path / (app.REQUEST_DIR_PREFIX + "old")
    old.mkdir()
    (old / app.OUTPUT_NAME).write_bytes(b"x")
    stale = os.stat(old).st_mtime - app.KEEP_REQUEST_DIRS_S - 10
    os.utime(old, (stale, stale))
    recent = tmp_path / (app.REQUEST_DIR_PREFIX + "recent")
    recent.mkdir()
    fresh = app._request_dir()
    assert fresh.is_dir() and fresh.parent == tmp_path and fresh.name.startswith(app.REQUEST_DIR_PREFIX)
    assert not old.exists() and recent.exists()


# ---------------------------------------------------------------- bad uploads and options (issue 10)
def test_uploaded_file_is_read_by_our_reader_with_our_message(tmp_path, caplog):
    """The portrait arrives as a file path (Gradio does not decode it); damaged and huge files get our one-line
    message without the server's folder, logged as one line, and the pipeline never runs."""
    from PIL import Image

    good = tmp_path / "good.png"
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(good)
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:60])
    Image.new("RGB", (10_000, 8_000)).save(tmp_path / "huge.png")   # 80 MP, zeros (compresses to ~250 kB)
    mock = MockPipeline()
    handler = app.make_handler(mock)
    call(handler, image=str(good))
    assert mock.requests[-1].image.shape == (64, 64, 3) and mock.requests[-1].image.dtype == np.uint8
    for name, words in [("cut.png", "damaged"), ("huge.png", "80 megapixels")]:
        caplog.clear()
        with pytest.raises(gr.Error) as info:
            call(handler, image=str(tmp_path / name))
        assert words in info.value.message and f"'{name}'" in info.value.message
        assert str(tmp_path) not in info.value.message and info.value.print_exception is False
        assert [r.getMessage() for r in caplog.records] == [f"input error: {info.value.message}"]
    assert len(mock.requests) == 1


@pytest.mark.parametrize("overrides, words", [
    ({"yaw_deg": float("nan")}, "yaw"), ({"expression_scale": 5.0}, "expression scale"),
    ({"camera_path": "spin"}, "camera path"), ({"seed": -3}, "seed"), ({"size": 4000}, "size"),
])
def test_options_out_of_range_are_refused_before_the_pipeline(overrides, words):
    mock = MockPipeline()
    with pytest.raises(gr.Error, match=words):
        call(app.make_handler(mock), **overrides)
    assert mock.requests == []


def test_public_message_hides_server_paths_and_errno():
    text = "could not decode audio file '/tmp/gradio/3f2a/my speech.wav': [Errno 1094995529] Invalid data"
    assert app.public_message(text) == "could not decode audio file 'my speech.wav': Invalid data"


def test_a_new_run_first_clears_the_video_and_the_status():
    demo = app.build_demo(MockPipeline())
    fns = list(demo.fns.values())
    i = next(i for i, fn in enumerate(fns) if fn.fn is app._clear)
    first, second = fns[i], fns[i + 1]         # the button's click, then its .then(generate)
    assert app._clear()[:2] == (None, "") and app._clear()[3:] == (None,) * 5
    assert [b.label for b in first.outputs] == [b.label for b in second.outputs]
    assert second.api_name == "generate"


# ---------------------------------------------------------------- the web demo people expect (issue 18)
def test_language_choice_reaches_the_voice_and_the_request():
    mock = MockPipeline()
    call(app.make_handler(mock), text="Bonjour à tous.", language="fr")
    (request,) = mock.requests
    assert request.language == "fr" and request.transcript == "Bonjour à tous."
    english = MockPipeline()
    call(app.make_handler(english), text="Bonjour à tous.", language="")
    assert english.requests[0].language == ""
    assert [p.phone for p in request.phones] != [p.phone for p in english.requests[0].phones]   # a French voice
    with pytest.raises(gr.Error, match="language"):
        call(app.make_handler(MockPipeline()), text="Hello.", language="xx-nonsense")


def test_examples_are_a_colour_photo_a_black_and_white_photo_and_a_painting():
    from PIL import Image

    from vasa3d.validate import check_language

    rows = app.example_rows()
    assert len(rows) >= 3 and len({row[0] for row in rows}) >= 3
    codes = {label_code[1] for label_code in app.LANGUAGES}
    for path, text, language in rows:
        assert Image.open(path).size[0] >= 256 and text.strip() and language in codes
        check_language(language)
    colour = np.asarray(Image.open(rows[0][0]).convert("RGB"), np.float32)
    bw = np.asarray(Image.open(rows[1][0]).convert("RGB"), np.float32)
    assert np.ptp(colour, axis=2).mean() > 20 > np.ptp(bw, axis=2).mean()   # sepia at most


def test_exports_of_a_run(obama_avatar, tmp_path, monkeypatch):
    """The avatar .ply, the ARKit CSV, the motion plot and the viewer file are written from the run's avatar and
    motion, and the viewer's iframe points at the viewer file and the speech."""
    import csv

    from vasa3d.avatar.web import read_viewer_file
    from vasa3d.motion.sequence import MotionSequence

    monkeypatch.setattr(app, "viewer_root", lambda: tmp_path / "viewer")
    (tmp_path / "viewer").mkdir()
    motion = MotionSequence.rest(10, 25.0, ("jawOpen",))
    wave = 0.1 * np.sin(np.linspace(0, 300, 6400, dtype=np.float32))
    request = TalkRequest(image=PORTRAIT, audio=(wave, 16000), output=tmp_path / app.OUTPUT_NAME)
    result = TalkResult(video=request.output, num_frames=10, duration_s=0.4, backend="mock",
                        num_gaussians=obama_avatar.num_gaussians, avatar=obama_avatar, motion=motion)
    exports = app.write_exports(result, request, tmp_path)
    head = Path(exports.ply).read_bytes()[:400].decode("ascii", "replace")
    assert head.startswith("ply\n") and f"element vertex {obama_avatar.num_gaussians}\n" in head
    with open(exports.csv, newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0][:2] == ["Timecode", "BlendShapeCount"] and "JawOpen" in rows[0] and len(rows) == 11
    assert Path(exports.plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (viewer_dir,) = (tmp_path / "viewer").iterdir()
    header, _ = read_viewer_file(viewer_dir / "head.vasa3d")
    assert header["num_frames"] == 10 and (viewer_dir / "speech.wav").is_file()
    assert f"data={viewer_dir / 'head.vasa3d'}" in exports.viewer.replace("%2F", "/")


class AvatarPipeline(MockPipeline):
    """A mock pipeline with a real, prebuilt avatar for the preview."""

    def __init__(self, avatar):
        super().__init__()
        self.avatar, self.builds = avatar, 0

    def build_avatar(self, image):
        self.builds += 1
        return self.avatar


def test_preview_follows_yaw_within_half_a_second(obama_avatar):
    import time

    pipeline = AvatarPipeline(obama_avatar)
    preview = app.make_preview(pipeline)
    first, note = preview(PORTRAIT, 0, 0)               # warms the renderer (and numba's compiled kernels)
    assert first.shape == (app.PREVIEW_SIZE, app.PREVIEW_SIZE, 3) and "yaw +0" in note
    latencies, frames = [], {}
    for yaw in (-30, 30, -30):
        t0 = time.perf_counter()
        frames[yaw], note = preview(PORTRAIT, yaw, 0)
        latencies.append(time.perf_counter() - t0)
    left, right = frames[-30], frames[30]
    print(f"\npreview latency: {[round(s * 1000) for s in latencies]} ms")
    assert sorted(latencies)[1] < 0.5 and pipeline.builds == 4
    assert "yaw -30" in note and np.abs(left.astype(int) - right.astype(int)).mean() > 3
    assert np.abs(left.astype(int) - first.astype(int)).mean() > 1


def test_preview_of_a_bad_portrait_is_a_note_and_no_image(tmp_path):
    bad = tmp_path / "cut.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    frame, note = app.make_preview(AvatarPipeline(None))(str(bad), 0, 0)
    assert frame is None and "Preview:" in note and str(tmp_path) not in note
    assert app.make_preview(MockPipeline())(PORTRAIT, 10, 0) == (None, "")     # no build_avatar: no preview


def test_a_person_video_is_fitted_once_and_used_instead_of_the_portrait(tmp_path):
    video = tmp_path / "me.mp4"
    video.write_bytes(b"a talking video")
    fitted = []

    def fit(path, start_s, end_s, config, progress):
        progress(0.5, "fitting")
        fitted.append((Path(path), start_s, end_s, config.steps))
        return object(), None

    mock, progress = MockPipeline(), RecordingProgress()
    handler = app.make_handler(mock, app.VideoAvatars(fit=fit))
    call(handler, image=None, person_video=str(video), progress=progress)
    call(handler, image=None, person_video=str(video))
    assert fitted == [(video, 0.0, app.MAX_FIT_VIDEO_S, app.DEMO_FIT.steps)]   # the second request hit the cache
    assert mock.requests[0].image is mock.requests[1].image
    assert progress.calls[0] == (0.5, "fitting the avatar to the video: fitting")
    with pytest.raises(gr.Error, match="does not exist"):
        call(handler, person_video=str(tmp_path / "missing.mp4"))


class StreamingPipeline(MockPipeline):
    """A pipeline double whose run hands over video segments as the real one does."""

    def run(self, request, progress, on_segment=None, segment_dir=None):
        for i in range(3):
            seg = segment_dir / f"segment-{i:05d}.mp4"
            seg.write_bytes(b"segment")
            on_segment(seg)
        return super().run(request, progress)


def test_streaming_handler_yields_segments_then_the_results(wav):
    """With streaming, each segment reaches the video as it is made; the last outputs leave the streamed video
    alone and carry the status and the finished mp4 for download."""
    handler = app.make_handler(StreamingPipeline(), stream=True)
    steps = list(handler(image=PORTRAIT, audio=wav, text="", transcript="", yaw_deg=0, pitch_deg=0,
                         camera_path="fixed", expression_scale=1.0, head_motion_scale=1.0, seed=0, size=256,
                         progress=RecordingProgress()))
    assert [Path(s[0]).name for s in steps[:-1]] == [f"segment-{i:05d}.mp4" for i in range(3)]
    final = steps[-1]
    assert isinstance(final[0], type(gr.skip())) and "Done." in final[1]
    assert Path(final[-1]).read_bytes() == b"placeholder mp4"
    # without streaming (or with a pipeline that cannot), one tuple with the video itself
    (only,) = list(app.make_handler(MockPipeline(), stream=True)(
        image=PORTRAIT, audio=wav, text="", transcript="", yaw_deg=0, pitch_deg=0, camera_path="fixed",
        expression_scale=1.0, head_motion_scale=1.0, seed=0, size=256, progress=RecordingProgress()))
    assert only[0] == only[-1] and Path(only[0]).name == app.OUTPUT_NAME


def test_streaming_handler_reports_a_failed_run_as_our_message(wav):
    class Failing(StreamingPipeline):
        def run(self, request, progress, on_segment=None, segment_dir=None):
            raise InputError("no face found in the portrait; use a frontal photo")

    with pytest.raises(gr.Error, match="no face found"):
        call(app.make_handler(Failing(), stream=True), audio=wav)
