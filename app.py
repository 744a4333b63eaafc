"""Gradio web demo: one portrait + speech (or text to speak) -> a talking 3D Gaussian head: a video, an
interactive 3D viewer in the browser, and downloads (the avatar .ply, the motion as ARKit CSV, a motion plot).

The UI only: widgets -> `TalkRequest` -> `TalkingHeadPipeline.run` -> video + a status line, then the exports of
the run's avatar and motion. Defaults come from `vasa3d.config` (one source of truth); per-request options travel
in the request, never into the shared pipeline. Each request writes into its own fresh temporary directory.
The 3D viewer (`assets/viewer/`: Spark + three.js, vendored) is a static page in an iframe, served by Gradio from
`assets/viewer/` and reading the run's viewer file (`vasa3d.avatar.web`) from this app's viewer folder in the
temporary directory. Moving yaw or pitch shows a still preview of the cached avatar (`make_preview`).

Run `python app.py` (as a Hugging Face Space does): serves on $GRADIO_SERVER_NAME (default 0.0.0.0) and
$GRADIO_SERVER_PORT (default 7860); MediaPipe's native log lines are dropped unless VASA3D_VERBOSE=1.
Importing this module builds no model and starts nothing. Uploads are checked by our own readers (image size
from the header before decoding); a user's mistake is shown as one line and logged as one line.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import tempfile
import typing
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np

from vasa3d.config import CameraPathKind, FitConfig, MotionConfig, RenderConfig
from vasa3d.errors import InputError
from vasa3d.pipeline import TalkRequest, TalkResult

log = logging.getLogger("vasa3d.app")

MAX_YAW_DEG = 45.0      # the pipeline accepts +-90; beyond +-45 the unseen side of the head dominates
MAX_PITCH_DEG = 30.0    # the pipeline accepts +-60
MAX_MOTION_SCALE = 2.0  # expression and head-motion scales, 0 = still
SIZE_CHOICES = (256, 384, 512)
DEFAULT_TEXT = "Hello! I am a talking head made from a single photo."
OUTPUT_NAME = "talking_head.mp4"
REQUEST_DIR_PREFIX = "vasa3d-request-"
KEEP_REQUEST_DIRS_S = 3600.0   # a hosted demo's finished videos are deleted after an hour (Gradio keeps its own copy)

VIEWER_DIR_PREFIX = "vasa3d-viewer-"
VIEWER_ASSETS = Path(__file__).resolve().parent / "assets" / "viewer"
VIEWER_HEIGHT_PX = 520
PREVIEW_SIZE = 256
LANGUAGES = (("English", ""), ("French", "fr"), ("German", "de"), ("Spanish", "es"), ("Italian", "it"),
             ("Portuguese", "pt"), ("Mandarin Chinese", "cmn"))
"""(label, espeak-ng code) of the offline voice and of the speech's language for lip sync ("" = English)."""
ENGLISH_VOICE = "en-us"
MAX_FIT_VIDEO_S = 20.0     # a person video is fitted over its first 20 s at most
DEMO_FIT = FitConfig(steps=200, max_frames=120)
"""The demo's fitting of a person video: a third of `vasa3d fit`'s steps (a few minutes on a CPU)."""

TITLE = "vasa3d: a talking 3D Gaussian head from one photo"
INTRO = (f"# {TITLE}\n"
         "Upload a portrait and a speech recording (or record one, or type text to speak), choose a viewpoint and "
         "press **Generate**: the head is built from the photo as 3D Gaussians; watch the video or turn the head "
         "yourself in the **3D viewer**. Yaw and pitch show a still preview at once.")


@functools.lru_cache(maxsize=1)
def example_portrait_path() -> str:
    """The built-in example portrait (scikit-image's `astronaut()`, NASA, public domain) as a PNG in a
    per-process temporary directory, written at first use. Returns its path."""
    from PIL import Image
    from skimage.data import astronaut

    path = Path(tempfile.mkdtemp(prefix="vasa3d-example-")) / "astronaut.png"
    Image.fromarray(astronaut()).save(path)
    return str(path)


@functools.lru_cache(maxsize=1)
def example_rows() -> list[list]:
    """The examples as rows [portrait path, text, language code]: a colour photo, a black-and-white photo and a
    painting, each written to a per-process temporary directory at first use (their speech is made offline by
    espeak-ng when Generate runs). Sources: scikit-image's `astronaut()` (NASA, Eileen Collins, public domain);
    `assets/examples/einstein_1904_bw.jpg` (Albert Einstein c. 1904, public domain by age); matplotlib's sample
    `grace_hopper.jpg` (US Navy portrait of Grace Hopper, public domain) painted by OpenCV's
    `xphoto.oilPainting` (a stylised painting, not an artwork)."""
    import cv2
    import matplotlib
    import numpy as np
    from PIL import Image

    folder = Path(tempfile.mkdtemp(prefix="vasa3d-examples-"))
    hopper = np.asarray(Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
                        .convert("RGB"))
    painting = folder / "grace_hopper_oil_painting.png"
    Image.fromarray(cv2.xphoto.oilPainting(hopper, 4, 1)).save(painting)
    einstein = Path(__file__).resolve().parent / "assets" / "examples" / "einstein_1904_bw.jpg"
    return [[example_portrait_path(), DEFAULT_TEXT, ""],
            [str(einstein), "Hallo! Ich bin ein sprechender Kopf, gemacht aus einem einzigen Foto.", "de"],
            [str(painting), "Bonjour ! Je suis une tête parlante faite à partir d'un seul tableau.", "fr"],
            [example_portrait_path(), "¡Hola! Soy una cabeza que habla, hecha con una sola foto.", "es"]]


def _unopened_upload(image: gr.Image) -> gr.Image:
    """`image` (a `gr.Image(type="filepath")`) made to pass an uploaded file's path on unopened, so that our reader
    checks it: the size from the header before any decoding, and our own message for a damaged or non-image file
    (Gradio opens uploads with Pillow first, and a failure there shows only its generic "upstream app has raised
    an exception"). Pasted data URLs still go through Gradio's own handling. Returns `image`."""
    gradio_preprocess = image.preprocess

    def preprocess(payload):
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return gradio_preprocess(payload)

    image.preprocess = preprocess
    return image


def _portrait(image):
    """The portrait for the request: an uploaded file (path) read by our reader as uint8 RGB [H, W, 3] (its size
    is checked from the header before decoding); an array or PIL image as given. Raises InputError."""
    from vasa3d.io.image import read_image_u8

    if image is None:
        raise InputError("upload a portrait photo (or pick the example below)")
    if isinstance(image, (str, os.PathLike)):
        return read_image_u8(image)
    return image


_QUOTED_PATH = re.compile(r"'(?:[A-Za-z]:)?[\\/][^']*[\\/]([^'\\/]+)'")


def public_message(message: str) -> str:
    """`message` with every quoted absolute path shortened to its file name (the server's temporary folders stay
    private) and any "[Errno N]" removed."""
    message = _QUOTED_PATH.sub(r"'\1'", message)
    return re.sub(r"\[Errno -?\d+\]\s*", "", message)


def _speech(audio: str | None, text: str | None, transcript: str | None, language: str = ""):
    """(audio source, transcript, phones) for the request: the recording if given, else `text` spoken by the
    offline text-to-speech in `language` (an espeak-ng code, "" = English; its exact phones go to the pipeline).
    Raises InputError when neither is given, or for a language espeak-ng does not have."""
    transcript = (transcript or "").strip() or None
    if audio:
        return audio, transcript, None
    if not (text or "").strip():
        raise InputError("give a speech recording (upload or microphone) or type some text to speak")
    from vasa3d.io.tts import synthesize_speech
    from vasa3d.validate import check_language

    speech = synthesize_speech(text.strip(), voice=check_language(language or "") or ENGLISH_VOICE)
    return (speech.wave, speech.sr), speech.text, tuple(speech.phones)


def format_result(result: TalkResult) -> str:
    """One markdown line: backend, Gaussians, frames, duration and seconds per stage."""
    stages = " · ".join(f"{name.removesuffix('_s').replace('_', ' ')} {secs:.1f} s"
                        for name, secs in result.timings.items())
    return (f"**Done.** Rasterizer: `{result.backend}` · {result.num_gaussians:,} Gaussians · "
            f"{result.num_frames} frames ({result.duration_s:.1f} s of speech) · {stages}")


def _request_dir(now: float | None = None, prefix: str = REQUEST_DIR_PREFIX, parent: Path | None = None) -> Path:
    """A fresh, unique output directory for one request (named `prefix` + random, in `parent`, default the
    temporary directory); removes this app's directories of that prefix there older than `KEEP_REQUEST_DIRS_S`
    so a long-running Space does not fill its disk."""
    import shutil
    import time

    now = time.time() if now is None else now
    parent = Path(tempfile.gettempdir()) if parent is None else parent
    for old in parent.glob(prefix + "*"):
        try:
            if old.is_dir() and now - old.stat().st_mtime > KEEP_REQUEST_DIRS_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:      # another worker removed it first
            continue
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


@functools.lru_cache(maxsize=1)
def viewer_root() -> Path:
    """The folder under which each request's viewer files live (`VIEWER_DIR_PREFIX` + random, one per request);
    Gradio serves it (`gr.set_static_paths`), so it holds nothing but those files."""
    root = Path(tempfile.gettempdir()) / "vasa3d-viewer"
    root.mkdir(exist_ok=True)
    return root


def viewer_html(data: Path | None = None, audio: Path | None = None) -> str:
    """The 3D viewer's iframe: the static page `assets/viewer/index.html` served by Gradio, told the server paths
    of the viewer file `data` and the speech `audio` (it turns them into URLs beside its own); without `data` it
    says to press Generate."""
    from urllib.parse import quote

    src = f"gradio_api/file={quote(str(VIEWER_ASSETS / 'index.html'))}"
    if data is not None:
        src += f"?data={quote(str(data))}" + (f"&audio={quote(str(audio))}" if audio is not None else "")
    return (f'<iframe id="vasa3d-viewer" title="3D viewer" src="{src}" allow="autoplay" '
            f'style="width:100%;height:{VIEWER_HEIGHT_PX}px;border:0;border-radius:8px;background:#1f2227">'
            "</iframe>")


class Exports(typing.NamedTuple):
    """What a run adds beside the video: the viewer iframe's HTML, the avatar .ply, the motion as ARKit CSV and
    a motion plot (PNG); paths are None when the pipeline gave no avatar or motion."""

    viewer: str
    ply: str | None = None
    csv: str | None = None
    plot: str | None = None


def write_exports(result: TalkResult, request: TalkRequest, folder: Path) -> Exports:
    """Write the exports of `result` (its `avatar` and `motion`; none when they are missing) next to its video in
    `folder`: avatar.ply (standard 3DGS), motion_arkit.csv (Live Link Face layout), motion.png; and the viewer
    file with the speech as a 16 kHz WAV in a fresh folder under `viewer_root()`."""
    from vasa3d.io.audio import read_audio, write_wav

    avatar, motion = result.avatar, result.motion
    if avatar is None or motion is None:
        return Exports(viewer=viewer_html())
    from vasa3d.avatar.web import write_viewer_file
    from vasa3d.motion.plot import plot_motion

    wave = read_audio(request.audio, sr=16000)
    ply = avatar.to_ply(folder / "avatar.ply")
    csv = folder / "motion_arkit.csv"
    motion.to_arkit_csv(csv)
    plot = plot_motion(motion, wave, 16000, request.phones, folder / "motion.png", title="Motion from the speech")
    view = _request_dir(prefix=VIEWER_DIR_PREFIX, parent=viewer_root())
    data = write_viewer_file(view / "head.vasa3d", avatar, motion)
    speech = write_wav(view / "speech.wav", wave, 16000)
    return Exports(viewer=viewer_html(data, speech), ply=str(ply), csv=str(csv), plot=str(plot))


class VideoAvatars:
    """Person-specific avatars fitted to talking videos (`vasa3d.video_mode.fit_from_video` over the first
    `MAX_FIT_VIDEO_S` seconds with `DEMO_FIT`), cached by a SHA-256 of the video file's bytes (the last
    `size`), so a second request with the same video skips the fitting. Thread-safe."""

    def __init__(self, size: int = 2, fit: Callable | None = None):
        import threading
        from collections import OrderedDict

        self._cache: OrderedDict[str, object] = OrderedDict()
        self._size, self._lock = size, threading.Lock()
        self._fit = fit

    def get(self, path: str | os.PathLike, progress: Callable[[float, str], None]):
        """The `Avatar` fitted to the video at `path`; progress(fraction, message) while fitting.
        Raises InputError for an unreadable video, no face, or too few frames with a face."""
        from vasa3d import validate
        from vasa3d.io.media import file_sha256

        validate.check_input_file(path, "video")
        digest = file_sha256(path)
        with self._lock:
            if digest in self._cache:
                self._cache.move_to_end(digest)
                return self._cache[digest]
        if self._fit is None:
            from vasa3d.video_mode import fit_from_video

            self._fit = fit_from_video
        avatar, _ = self._fit(path, 0.0, MAX_FIT_VIDEO_S, DEMO_FIT, progress=progress)
        with self._lock:
            self._cache[digest] = avatar
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return avatar


def streaming_available() -> bool:
    """True when Gradio can stream video here: its streaming output muxes HLS segments with the `ffmpeg` and
    `ffprobe` programs on PATH (Debian: apt-get install ffmpeg; a Hugging Face Space has them)."""
    import shutil

    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def _streams(pipeline) -> bool:
    """True when `pipeline.run` takes the segment callback (the real pipeline; test doubles may not)."""
    import inspect

    try:
        return "on_segment" in inspect.signature(pipeline.run).parameters
    except (TypeError, ValueError):
        return False


def make_handler(pipeline, video_avatars: VideoAvatars | None = None, stream: bool = False) -> Callable:
    """The Generate button's function for `pipeline` (anything with `.run(request, progress)`).

    handler(image, audio, text, transcript, yaw_deg, pitch_deg, camera_path, expression_scale, head_motion_scale,
    seed, size, language="", person_video=None, progress) yields tuples (video, status markdown, viewer iframe
    HTML, avatar .ply path, ARKit CSV path, motion plot PNG path, .ply path again for the static 3D view, the
    finished mp4's path); the export paths are None when the pipeline's result carries no avatar and motion.
    With `stream` (and a pipeline whose `run` takes `on_segment`), the video is streamed: each half-second or
    1-second mp4 segment is yielded as the video value while the rest renders (for `gr.Video(streaming=True)`),
    and the last tuple leaves the video as it is (`gr.skip()`); otherwise one tuple with the mp4 comes at the end.
    `image`: RGB uint8 [H, W, 3] array or a file path (read here by `vasa3d.io.read_image_u8`, its size checked
    from the header first); `audio`: a file path or None; `language`: espeak-ng code of the speech ("" =
    English), the offline voice's language for typed text; `person_video`: a talking video of the person (path)
    to fit a person-specific avatar to (`video_avatars`, cached by content), used instead of the portrait.
    The request is checked (`TalkRequest.validate`) before the pipeline runs. Any `InputError` (missing portrait,
    no speech, no face found, damaged file, option out of range, ...) becomes a `gr.Error` with its message, server
    paths shortened to file names, and is logged as one line (no traceback).
    """

    avatars = video_avatars or VideoAvatars()
    stream = stream and _streams(pipeline)

    def generate(image, audio, text, transcript, yaw_deg, pitch_deg, camera_path, expression_scale,
                 head_motion_scale, seed, size, language="", person_video=None, progress=gr.Progress()):
        try:
            if person_video:
                portrait = avatars.get(person_video, lambda fraction, message: progress(
                    fraction, desc=f"fitting the avatar to the video: {message}"))
            else:
                portrait = _portrait(image)
            language = language or ""
            speech, transcript_used, phones = _speech(audio, text, transcript, language)
            folder = _request_dir()
            request = TalkRequest(
                image=portrait, audio=speech, transcript=transcript_used, phones=phones,
                output=folder / OUTPUT_NAME, language=language,
                yaw_deg=_number(yaw_deg), pitch_deg=_number(pitch_deg), camera_path=camera_path,
                expression_scale=_number(expression_scale), head_motion_scale=_number(head_motion_scale),
                seed=_number(seed, integer=True), size=_number(size, integer=True))
            request.validate()
            report = lambda fraction, message: progress(fraction, desc=message)  # noqa: E731
            if stream:   # the one pipeline call, in a worker; segments are shown as they come
                run = _StreamedRun(pipeline, request, report, folder)
                for segment in run:
                    yield (str(segment), "Rendering... the video plays while the rest is made.", gr.skip(),
                           gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())
                result = run.result
            else:        # the one pipeline call: the video (and the avatar and motion the exports are made from)
                result = pipeline.run(request, progress=report)
            progress(1.0, desc="writing the 3D viewer's data and the downloads")
            exports = write_exports(result, request, folder)
        except InputError as error:
            message = public_message(str(error))
            log.warning("input error: %s", message)
            raise gr.Error(message, print_exception=False) from None
        yield (gr.skip() if stream else str(result.video), format_result(result), exports.viewer, exports.ply,
               exports.csv, exports.plot, exports.ply, str(result.video))

    return generate


class _StreamedRun:
    """Iterate over the video segments of `pipeline.run(request, on_segment=...)` running in a worker thread;
    afterwards `.result` is its `TalkResult`. An exception of the run is raised by the iteration."""

    def __init__(self, pipeline, request, report, folder: Path):
        import queue
        import threading

        self.result = None
        self._segments: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        seg_dir = folder / "segments"
        seg_dir.mkdir(exist_ok=True)

        def work() -> None:
            try:
                self.result = pipeline.run(request, progress=report, on_segment=self._segments.put,
                                           segment_dir=seg_dir)
            except BaseException as exc:  # raised in the consumer
                self._error = exc
            finally:
                self._segments.put(None)

        threading.Thread(target=work, name="vasa3d-demo-run", daemon=True).start()

    def __iter__(self):
        while (segment := self._segments.get()) is not None:
            yield segment
        if self._error is not None:
            raise self._error


class StillView:
    """The neutral face of one avatar, posed once, seen from any (yaw, pitch): each view is one rasterization
    (no posing), composited over the avatar's background plate like the video's frames (`FrameRenderer`; the
    posed Gaussians do not depend on the camera, which orbits the head).

    Args: avatar: an `Avatar`; size: side in pixels."""

    def __init__(self, avatar, size: int = PREVIEW_SIZE):
        from vasa3d.avatar.view import FrameRenderer, neutral_pose

        self.avatar, self.size = avatar, size
        self.renderer = FrameRenderer(avatar, size, "auto", "cpu")
        self.gaussians, _ = self.renderer.posed(neutral_pose())

    def render(self, yaw: float, pitch: float) -> np.ndarray:
        """uint8 [size, size, 3] RGB seen from the photo's camera orbited by (`yaw`, `pitch`) radians."""
        import torch

        from vasa3d.render.cameras import orbit_viewmat

        viewmat = torch.from_numpy(orbit_viewmat(self.avatar.T_cam_from_head, yaw, pitch))
        return self.renderer.draw((self.gaussians, viewmat))


def make_preview(pipeline) -> Callable:
    """The live preview's function for `pipeline`: preview(image, yaw_deg, pitch_deg) -> (uint8 [S, S, 3] frame
    of the neutral face seen from (yaw, pitch) at `PREVIEW_SIZE` px, or None; a note in markdown). The avatar
    comes from `pipeline.build_avatar` (cached by the portrait's content hash) and its posed `StillView` is kept
    for the last avatars, so after the first build a new angle takes one rasterization.
    A bad portrait gives None and the message as the note (the Generate button reports it as an error); a
    pipeline without `build_avatar` (a mock) gives no preview."""
    import math
    import threading
    from collections import OrderedDict

    views: OrderedDict[int, StillView] = OrderedDict()
    lock = threading.Lock()

    def view_of(avatar) -> StillView:
        with lock:
            view = views.get(id(avatar))
            if view is not None and view.avatar is avatar:
                views.move_to_end(id(avatar))
                return view
        view = StillView(avatar)
        with lock:
            views[id(avatar)] = view
            while len(views) > 2:
                views.popitem(last=False)
        return view

    def preview(image, yaw_deg, pitch_deg):
        if image is None or not hasattr(pipeline, "build_avatar"):
            return None, ""
        try:
            yaw, pitch = float(_number(yaw_deg) or 0.0), float(_number(pitch_deg) or 0.0)
            if not (math.isfinite(yaw) and math.isfinite(pitch)):
                raise InputError("yaw and pitch must be finite numbers")
            avatar = pipeline.build_avatar(_portrait(image))
            frame = view_of(avatar).render(math.radians(yaw), math.radians(pitch))
        except InputError as error:
            return None, f"Preview: {public_message(str(error))}"
        return frame, f"Preview: yaw {yaw:+.0f}°, pitch {pitch:+.0f}° (still, neutral face)"

    return preview


def _number(value, integer: bool = False):
    """A widget's number as a float (an int when `integer` and whole); None and non-numbers stay as they are
    for the validator to name the option."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return value
    number = float(value)
    return int(number) if integer and number.is_integer() else number


def _clear():
    """Blank the video, the status line and the exports when a new run starts (a failed run must not show the
    last 'Done.' or the last run's files)."""
    return None, "", viewer_html(), None, None, None, None, None


def build_demo(pipeline, stream: bool | None = None) -> gr.Blocks:
    """The web demo around `pipeline` (a `TalkingHeadPipeline` or anything with the same `.run`; its
    `build_avatar`, when it has one, feeds the live preview).

    Layout (fits 1400 x 1000 px): inputs | preview and viewpoint | Generate, status and the outputs (video, 3D
    viewer, static .ply) side by side; downloads and examples below. `stream`: play the video while it renders
    (default: when `streaming_available()` and the pipeline hands over segments); the finished mp4 is also offered
    as a download either way."""
    render, motion = RenderConfig(), MotionConfig()
    stream = (streaming_available() and _streams(pipeline)) if stream is None else stream
    example = example_portrait_path()
    gr.set_static_paths([VIEWER_ASSETS, viewer_root()])
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(INTRO)
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=300):
                image = _unopened_upload(gr.Image(label="Portrait", type="filepath", image_mode=None, value=example,
                                                  sources=["upload", "clipboard", "webcam"], height=240))
                audio = gr.Audio(label="Speech (upload or record; leave empty to speak the text below)",
                                 sources=["upload", "microphone"], type="filepath")
                text = gr.Textbox(label="Text to speak (used when no speech is given)", value=DEFAULT_TEXT,
                                  lines=2)
                language = gr.Dropdown(list(LANGUAGES), value="", label="Language (of the voice and the speech)")
                transcript = gr.Textbox(label="Transcript of the speech (optional; improves lip sync)", lines=1)
                with gr.Accordion("Or a short talking video of the person (fits a person-specific avatar: "
                                  "minutes on a CPU)", open=False):
                    person_video = gr.Video(label="Video of the person (used instead of the portrait)",
                                            sources=["upload"], height=200)
            with gr.Column(scale=3, min_width=260):
                preview = gr.Image(label="Preview (moves with yaw and pitch)", type="numpy", interactive=False,
                                   height=240, format="png", elem_id="vasa3d-preview")
                preview_note = gr.Markdown(elem_id="vasa3d-preview-note")
                yaw = gr.Slider(-MAX_YAW_DEG, MAX_YAW_DEG, value=render.yaw_deg, step=1, label="Yaw (degrees)",
                                elem_id="vasa3d-yaw")
                pitch = gr.Slider(-MAX_PITCH_DEG, MAX_PITCH_DEG, value=render.pitch_deg, step=1,
                                  label="Pitch (degrees)")
                with gr.Accordion("Motion and video options", open=False):
                    camera_path = gr.Radio(list(typing.get_args(CameraPathKind)), value=render.camera_path,
                                           label="Camera path")
                    expression_scale = gr.Slider(0.0, MAX_MOTION_SCALE, value=motion.expression_scale, step=0.05,
                                                 label="Expression scale")
                    head_motion_scale = gr.Slider(0.0, MAX_MOTION_SCALE, value=motion.head_motion_scale, step=0.05,
                                                  label="Head-motion scale")
                    seed = gr.Number(value=motion.seed, precision=0, label="Seed")
                    size = gr.Radio(list(SIZE_CHOICES), value=render.size, label="Video size (pixels)")
            with gr.Column(scale=5, min_width=400):
                button = gr.Button("Generate", variant="primary", elem_id="vasa3d-generate")
                status = gr.Markdown(elem_id="vasa3d-status")
                with gr.Tabs():
                    with gr.Tab("Video", id="video"):
                        video = gr.Video(label="Talking head", height=440, autoplay=stream, streaming=stream,
                                         elem_id="vasa3d-video")
                    with gr.Tab("3D viewer (drag to turn)", id="viewer"):
                        viewer = gr.HTML(viewer_html(), elem_id="vasa3d-viewer-box")
                    with gr.Tab("3D avatar (.ply, still)", id="model3d"):
                        model3d = gr.Model3D(label="Avatar as 3D Gaussians (.ply)", height=440)
                gr.DeepLinkButton(size="md")
        with gr.Accordion("Downloads: avatar, motion, plot", open=True):
            with gr.Row():
                mp4 = gr.File(label="Video (.mp4, H.264 + AAC)", elem_id="vasa3d-mp4")
                ply = gr.File(label="Avatar (.ply, 3D Gaussian splats)", elem_id="vasa3d-ply")
                csv = gr.File(label="Motion (ARKit blendshapes, CSV)", elem_id="vasa3d-csv")
                plot = gr.Image(label="Motion plot", type="filepath", interactive=False, elem_id="vasa3d-plot")
        gr.Examples(example_rows(), inputs=[image, text, language], cache_examples=False,
                    label="Examples: a colour photo, a black-and-white photo, a painting (speech made offline)")
        inputs = [image, audio, text, transcript, yaw, pitch, camera_path, expression_scale, head_motion_scale,
                  seed, size, language, person_video]
        outputs = [video, status, viewer, ply, csv, plot, model3d, mp4]
        button.click(_clear, outputs=outputs, queue=False, api_name=False).then(
            make_handler(pipeline, stream=stream), inputs=inputs, outputs=outputs, api_name="generate")
        preview_fn = make_preview(pipeline)
        for trigger in (yaw.change, pitch.change, image.change):
            trigger(preview_fn, inputs=[image, yaw, pitch], outputs=[preview, preview_note], api_name=False,
                    trigger_mode="always_last", show_progress="hidden", concurrency_id="preview")
        demo.load(preview_fn, inputs=[image, yaw, pitch], outputs=[preview, preview_note], api_name=False,
                  show_progress="hidden", concurrency_id="preview")
    return demo


def main() -> None:
    """Build the real pipeline and serve the demo (Hugging Face Space entry point)."""
    from vasa3d.logs import quiet_native_logs
    from vasa3d.pipeline import TalkingHeadPipeline

    if os.environ.get("VASA3D_VERBOSE", "") in ("", "0"):
        quiet_native_logs()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    demo = build_demo(TalkingHeadPipeline())
    demo.queue(max_size=16).launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"))


if __name__ == "__main__":
    main()
