"""Gradio web demo: one portrait + speech (or text to speak) -> a talking 3D Gaussian head video.

The UI only: widgets -> `TalkRequest` -> `TalkingHeadPipeline.run` -> video + a status line. Defaults come from
`vasa3d.config` (one source of truth); per-request options travel in the request, never into the shared pipeline.
Each request writes into its own fresh temporary directory.

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

from vasa3d.config import CameraPathKind, MotionConfig, RenderConfig
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

TITLE = "vasa3d: a talking 3D Gaussian head from one photo"
INTRO = (f"# {TITLE}\n"
         "Upload a portrait and a speech recording (or record one, or type text to speak), choose a viewpoint and "
         "press **Generate**. The head is built from the photo as 3D Gaussians and rendered on the CPU.")


@functools.lru_cache(maxsize=1)
def example_portrait_path() -> str:
    """The built-in example portrait (scikit-image's `astronaut()`, NASA, public domain) as a PNG in a
    per-process temporary directory, written at first use. Returns its path."""
    from PIL import Image
    from skimage.data import astronaut

    path = Path(tempfile.mkdtemp(prefix="vasa3d-example-")) / "astronaut.png"
    Image.fromarray(astronaut()).save(path)
    return str(path)


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


def _speech(audio: str | None, text: str | None, transcript: str | None):
    """(audio source, transcript, phones) for the request: the recording if given, else `text` spoken by the
    offline text-to-speech (its exact phones go to the pipeline). Raises InputError when neither is given."""
    transcript = (transcript or "").strip() or None
    if audio:
        return audio, transcript, None
    if not (text or "").strip():
        raise InputError("give a speech recording (upload or microphone) or type some text to speak")
    from vasa3d.io.tts import synthesize_speech

    speech = synthesize_speech(text.strip())
    return (speech.wave, speech.sr), speech.text, tuple(speech.phones)


def format_result(result: TalkResult) -> str:
    """One markdown line: backend, Gaussians, frames, duration and seconds per stage."""
    stages = " · ".join(f"{name.removesuffix('_s').replace('_', ' ')} {secs:.1f} s"
                        for name, secs in result.timings.items())
    return (f"**Done.** Rasterizer: `{result.backend}` · {result.num_gaussians:,} Gaussians · "
            f"{result.num_frames} frames ({result.duration_s:.1f} s of speech) · {stages}")


def _request_dir(now: float | None = None) -> Path:
    """A fresh, unique output directory for one request; removes this app's request directories older than
    `KEEP_REQUEST_DIRS_S` so a long-running Space does not fill its disk."""
    import shutil
    import time

    now = time.time() if now is None else now
    for old in Path(tempfile.gettempdir()).glob(REQUEST_DIR_PREFIX + "*"):
        try:
            if old.is_dir() and now - old.stat().st_mtime > KEEP_REQUEST_DIRS_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:      # another worker removed it first
            continue
    return Path(tempfile.mkdtemp(prefix=REQUEST_DIR_PREFIX))


def make_handler(pipeline) -> Callable:
    """The Generate button's function for `pipeline` (anything with `.run(request, progress)`).

    handler(image, audio, text, transcript, yaw_deg, pitch_deg, camera_path, expression_scale, head_motion_scale,
    seed, size, progress) -> (video path, status markdown). `image`: RGB uint8 [H, W, 3] array or a file path
    (read here by `vasa3d.io.read_image_u8`, its size checked from the header first); `audio`: a file path or None.
    The request is checked (`TalkRequest.validate`) before the pipeline runs. Any `InputError` (missing portrait,
    no speech, no face found, damaged file, option out of range, ...) becomes a `gr.Error` with its message, server
    paths shortened to file names, and is logged as one line (no traceback).
    """

    def generate(image, audio, text, transcript, yaw_deg, pitch_deg, camera_path, expression_scale,
                 head_motion_scale, seed, size, progress=gr.Progress()):
        try:
            portrait = _portrait(image)
            speech, transcript_used, phones = _speech(audio, text, transcript)
            request = TalkRequest(
                image=portrait, audio=speech, transcript=transcript_used, phones=phones,
                output=_request_dir() / OUTPUT_NAME,
                yaw_deg=_number(yaw_deg), pitch_deg=_number(pitch_deg), camera_path=camera_path,
                expression_scale=_number(expression_scale), head_motion_scale=_number(head_motion_scale),
                seed=_number(seed, integer=True), size=_number(size, integer=True))
            request.validate()
            result = pipeline.run(request, progress=lambda fraction, message: progress(fraction, desc=message))
        except InputError as error:
            message = public_message(str(error))
            log.warning("input error: %s", message)
            raise gr.Error(message, print_exception=False) from None
        return str(result.video), format_result(result)

    return generate


def _number(value, integer: bool = False):
    """A widget's number as a float (an int when `integer` and whole); None and non-numbers stay as they are
    for the validator to name the option."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return value
    number = float(value)
    return int(number) if integer and number.is_integer() else number


def _clear():
    """Blank the video and the status line when a new run starts (a failed run must not show the last 'Done.')."""
    return None, ""


def build_demo(pipeline) -> gr.Blocks:
    """The web demo around `pipeline` (a `TalkingHeadPipeline` or anything with the same `.run`)."""
    render, motion = RenderConfig(), MotionConfig()
    example = example_portrait_path()
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column():
                image = _unopened_upload(gr.Image(label="Portrait", type="filepath", image_mode=None, value=example,
                                                  sources=["upload", "clipboard", "webcam"]))
                audio = gr.Audio(label="Speech (upload or record; leave empty to speak the text below)",
                                 sources=["upload", "microphone"], type="filepath")
                text = gr.Textbox(label="Text to speak (used when no speech is given)", value=DEFAULT_TEXT,
                                  lines=2)
                transcript = gr.Textbox(label="Transcript of the speech (optional; improves lip sync)", lines=2)
                with gr.Accordion("Camera and motion", open=True):
                    yaw = gr.Slider(-MAX_YAW_DEG, MAX_YAW_DEG, value=render.yaw_deg, step=1, label="Yaw (degrees)")
                    pitch = gr.Slider(-MAX_PITCH_DEG, MAX_PITCH_DEG, value=render.pitch_deg, step=1,
                                      label="Pitch (degrees)")
                    camera_path = gr.Radio(list(typing.get_args(CameraPathKind)), value=render.camera_path,
                                           label="Camera path")
                    expression_scale = gr.Slider(0.0, MAX_MOTION_SCALE, value=motion.expression_scale, step=0.05,
                                                 label="Expression scale")
                    head_motion_scale = gr.Slider(0.0, MAX_MOTION_SCALE, value=motion.head_motion_scale, step=0.05,
                                                  label="Head-motion scale")
                    with gr.Row():
                        seed = gr.Number(value=motion.seed, precision=0, label="Seed")
                        size = gr.Radio(list(SIZE_CHOICES), value=render.size, label="Video size (pixels)")
                button = gr.Button("Generate", variant="primary")
            with gr.Column():
                video = gr.Video(label="Talking head")
                status = gr.Markdown()
        gr.Examples([[example, DEFAULT_TEXT]], inputs=[image, text], cache_examples=False)
        inputs = [image, audio, text, transcript, yaw, pitch, camera_path, expression_scale, head_motion_scale,
                  seed, size]
        button.click(_clear, outputs=[video, status], queue=False, api_name=False).then(
            make_handler(pipeline), inputs=inputs, outputs=[video, status], api_name="generate")
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
