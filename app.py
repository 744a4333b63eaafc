"""Gradio web demo: one portrait + speech (or text to speak) -> a talking 3D Gaussian head video.

The UI only: widgets -> `TalkRequest` -> `TalkingHeadPipeline.run` -> video + a status line. Defaults come from
`vasa3d.config` (one source of truth); per-request options travel in the request, never into the shared pipeline.
Each request writes into its own fresh temporary directory.

Run `python app.py` (as a Hugging Face Space does): serves on $GRADIO_SERVER_NAME (default 0.0.0.0) and
$GRADIO_SERVER_PORT (default 7860). Importing this module builds no model and starts nothing.
"""

from __future__ import annotations

import functools
import os
import tempfile
import typing
from collections.abc import Callable
from pathlib import Path

import gradio as gr

from vasa3d.config import CameraPathKind, MotionConfig, RenderConfig
from vasa3d.errors import InputError
from vasa3d.pipeline import TalkRequest, TalkResult

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
    seed, size, progress) -> (video path, status markdown). `image`: RGB uint8 [H, W, 3] array or a path; `audio`:
    a file path or None. Raises `gr.Error` with the message of any `InputError` (missing portrait, no speech, no
    face found, unreadable file, ...), so the user sees what to fix.
    """

    def generate(image, audio, text, transcript, yaw_deg, pitch_deg, camera_path, expression_scale,
                 head_motion_scale, seed, size, progress=gr.Progress()):
        try:
            if image is None:
                raise InputError("upload a portrait photo (or pick the example below)")
            speech, transcript_used, phones = _speech(audio, text, transcript)
            request = TalkRequest(
                image=image, audio=speech, transcript=transcript_used, phones=phones,
                output=_request_dir() / OUTPUT_NAME,
                yaw_deg=float(yaw_deg), pitch_deg=float(pitch_deg), camera_path=camera_path,
                expression_scale=float(expression_scale), head_motion_scale=float(head_motion_scale),
                seed=int(seed), size=int(size))
            result = pipeline.run(request, progress=lambda fraction, message: progress(fraction, desc=message))
        except InputError as error:
            raise gr.Error(str(error)) from error
        return str(result.video), format_result(result)

    return generate


def build_demo(pipeline) -> gr.Blocks:
    """The web demo around `pipeline` (a `TalkingHeadPipeline` or anything with the same `.run`)."""
    render, motion = RenderConfig(), MotionConfig()
    example = example_portrait_path()
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column():
                image = gr.Image(label="Portrait", type="numpy", image_mode="RGB", value=example,
                                 sources=["upload", "clipboard", "webcam"])
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
        button.click(make_handler(pipeline), inputs=inputs, outputs=[video, status], api_name="generate")
    return demo


def main() -> None:
    """Build the real pipeline and serve the demo (Hugging Face Space entry point)."""
    from vasa3d.pipeline import TalkingHeadPipeline

    demo = build_demo(TalkingHeadPipeline())
    demo.queue(max_size=16).launch(server_name=os.environ.get("GRADIO_SERVER_NAME", "0.0.0.0"))


if __name__ == "__main__":
    main()
