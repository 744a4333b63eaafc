"""End-to-end benchmark of the talking-head pipeline; prints one JSON object (`vasa3d bench pipeline`).

    vasa3d bench pipeline [--size 512] [--seconds 10] [--image PORTRAIT] [--audio SPEECH] [--preset veryfast]

Inputs: the built-in example portrait (scikit-image's astronaut) and, unless --audio is given, English speech
synthesised offline by espeak-ng, cut to --seconds. The speech is read without a transcript, as an upload is.

Fields (seconds, frames per second, MB):
- avatar_s: face analysis + building the avatar from the photo (not cached).
- motion_s: audio -> rig coefficients, head motion, blinks (`motion_from_audio`), alone.
- first_frame_s: from the avatar being ready to the first finished frame in a run laid out as
  `TalkingHeadPipeline.run` lays it out (motion computed while the avatar is built, then the renderer set up,
  the kernels loaded from numba's cache, the first frame posed and drawn).
- render_fps: frames posed and rasterized per second, nothing encoded (`render_frames`).
- encode_fps: the same frames, already in memory, encoded alone (H.264 + AAC, the pipeline's settings): the
  floor any pipeline pays.
- end_to_end_fps: frames per second of rendering and encoding together, as `vasa3d talk` does it (posing a
  frame ahead, encoding a frame behind, each in its own thread; after the avatar and the motion);
  end_to_end_vs_encode_only: its time over encode-alone's time (1.0 would mean the rendering is completely hidden
  behind the encoder).
- clip_s, frames, size, num_gaussians, encoder (backend and preset), peak_rss_mb (the process's peak resident
  set size by the end of the end-to-end run, before the stage timings hold all frames in memory), threads (numba
  and torch), cpu (model and logical cores), load_avg_1min at the start (a busy machine shows here; compare
  figures measured in the same run).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from pathlib import Path

import numpy as np

BENCH_TEXT = ("The quick brown fox jumps over the lazy dog. A talking head speaks this sentence to measure how "
              "fast the whole pipeline runs, from the photo and the speech to a finished video file. We keep "
              "talking for a while, with pauses, questions, and a few long words, so that every part of the "
              "mouth is exercised.")


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else `platform.processor()`."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def bench_speech(seconds: float, sr: int = 16000) -> np.ndarray:
    """float32 [round(seconds * sr)] English speech from espeak-ng (repeated, then cut to `seconds`)."""
    from vasa3d.io.audio import resample
    from vasa3d.io.tts import synthesize_speech

    speech = synthesize_speech(BENCH_TEXT)
    wave = resample(speech.wave, speech.sr, sr)
    n = int(round(seconds * sr))
    return np.resize(wave, n).astype(np.float32)


def bench_pipeline(size: int = 512, seconds: float = 10.0, image=None, audio: str | None = None,
                   preset: str | None = None) -> dict:
    """Run the stages of `vasa3d talk` one by one and together; returns the dict described in the module
    docstring. `image`: portrait path or RGB array (default: the built-in example); `audio`: speech file (default:
    synthesised); `preset`: x264 preset (default: the pipeline's)."""
    import tempfile

    import numba
    import torch

    from vasa3d.avatar.view import FrameRenderer
    from vasa3d.config import PipelineConfig
    from vasa3d.io.audio import read_audio
    from vasa3d.io.image import read_image
    from vasa3d.io.video import VideoWriter
    from vasa3d.motion import motion_from_audio
    from vasa3d.pipeline import (AUDIO_RATE, TalkingHeadPipeline, TalkRequest, WriteBehind, build_avatar,
                                 render_frames)
    from vasa3d.render.cameras import camera_path

    cfg = PipelineConfig()
    preset = preset or cfg.render.encoder_preset
    load = os.getloadavg()[0]
    if image is None:
        from skimage.data import astronaut

        image = astronaut()
    pixels = read_image(image)
    wave = read_audio(audio, sr=AUDIO_RATE)[: int(seconds * AUDIO_RATE)] if audio else bench_speech(seconds)
    result: dict = dict(size=size, clip_s=round(len(wave) / AUDIO_RATE, 2), cpu=cpu_model(),
                        logical_cores=os.cpu_count(), load_avg_1min=round(load, 2))

    t = time.perf_counter()
    avatar = build_avatar(pixels, cfg.face, cfg.avatar)
    result["avatar_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    motion = motion_from_audio(wave, AUDIO_RATE, None, config=cfg.motion)
    result["motion_s"] = round(time.perf_counter() - t, 3)

    # the pipeline's own layout (motion while the avatar is built, on a fresh avatar cache), then the first frame
    timings: dict = {}
    t = time.perf_counter()
    avatar, first_motion, _ = TalkingHeadPipeline(cfg)._avatar_and_motion(
        TalkRequest(image=pixels, audio=wave, output=Path(os.devnull)), wave, cfg.motion, timings)
    ready = t + timings["avatar_s"]
    renderer = FrameRenderer(avatar, size, cfg.render.backend, "cpu")
    angles = camera_path(cfg.render.camera_path, first_motion.num_frames, cfg.render.fps, 0.0, 0.0)
    frames_iter = render_frames(avatar, first_motion, angles, renderer=renderer)
    next(frames_iter)
    result["first_frame_s"] = round(time.perf_counter() - ready, 3)
    frames_iter.close()

    angles = camera_path(cfg.render.camera_path, motion.num_frames, cfg.render.fps, 0.0, 0.0)
    with tempfile.TemporaryDirectory(prefix="vasa3d-bench-") as tmp:
        out = os.path.join(tmp, "bench.mp4")
        t = time.perf_counter()
        with VideoWriter(out, cfg.render.fps, wave, AUDIO_RATE, preset=preset) as writer, \
                WriteBehind(writer.write) as write:
            for frame in render_frames(avatar, motion, angles, renderer=renderer):
                write(frame)
        total_s = time.perf_counter() - t
        encoder = writer.backend
        # the peak of the run as `vasa3d talk` makes it (the stage timings below keep every frame in memory)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t = time.perf_counter()
        frames = list(render_frames(avatar, motion, angles, renderer=renderer))
        render_s = time.perf_counter() - t
        n = len(frames)
        t = time.perf_counter()
        with VideoWriter(out, cfg.render.fps, wave, AUDIO_RATE, preset=preset) as writer:
            for frame in frames:
                writer.write(frame)
        encode_s = time.perf_counter() - t
    result.update(
        frames=n, num_gaussians=avatar.num_gaussians, encoder=f"{encoder} libx264 {preset}",
        render_fps=round(n / render_s, 1), encode_fps=round(n / encode_s, 1),
        end_to_end_fps=round(n / total_s, 1), end_to_end_s=round(total_s, 2),
        end_to_end_vs_encode_only=round(total_s / encode_s, 2), peak_rss_mb=round(peak_mb, 1),
        threads=dict(numba=numba.get_num_threads(), torch=torch.get_num_threads()),
        omp_wait_policy=os.environ.get("OMP_WAIT_POLICY"),
    )
    return result


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of `vasa3d bench pipeline`."""
    p.add_argument("--size", type=int, default=512, help="frame side in pixels")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the clip, seconds")
    p.add_argument("--image", help="portrait (default: the built-in example)")
    p.add_argument("--audio", help="speech file (default: English speech synthesised offline)")
    p.add_argument("--preset", help="x264 preset (default: the pipeline's)")
