"""The talking-head pipeline: portrait + speech -> mp4, stage by stage, with progress and an avatar cache.

Stages (DESIGN.md): face analysis + head model + Gaussians (`Avatar.from_image`), audio -> `MotionSequence`
(`motion_from_audio`), per-frame posing + rasterization (`render_frames`), mp4 with H.264 + AAC (`write_video`).
Requests never mutate the pipeline's config; each carries its own options in a `TalkRequest`.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from vasa3d.config import (AvatarConfig, Backend, CameraPathKind, Device, FaceConfig, MotionConfig, PipelineConfig,
                           RenderConfig)
from vasa3d.errors import InputError

ProgressCallback = Callable[[float, str], None]
"""progress(fraction in [0, 1], message) called as the stages advance."""

AUDIO_RATE = 16000


@dataclass(frozen=True)
class TalkRequest:
    """One talking-head job.

    image: path, PIL image or RGB array of the portrait, or an avatar (an `Avatar`, or a saved .npz such as
    `vasa3d fit` writes). audio: path of a speech file or (wave, sample_rate).
    transcript: the words spoken (optional; improves lip sync). phones: exact phone segments (from `vasa3d say`).
    language: espeak-ng code of the speech's language ("fr", "es", ...; None: the config's, "" = English).
    emotion (neutral, happy, sad, angry, surprised), emotion_intensity (0-2), head_motion (still, natural, lively).
    personal_speech: an avatar fitted to a video speaks with its person's own mouth model (False: the generic one).
    output: where the mp4 goes. The rest override `PipelineConfig.render` / `.motion` for this request only;
    None keeps the config's value. Angles in degrees (UI edge). `validate` checks it all (limits in
    `vasa3d.validate`); `TalkingHeadPipeline.run` calls it before any work.
    """

    image: object
    audio: object
    output: Path
    transcript: str | None = None
    phones: tuple | None = None
    yaw_deg: float | None = None
    pitch_deg: float | None = None
    camera_path: CameraPathKind | None = None
    size: int | None = None
    fps: float | None = None
    expression_scale: float | None = None
    head_motion_scale: float | None = None
    seed: int | None = None
    backend: Backend | None = None
    device: Device | None = None
    language: str | None = None
    emotion: str | None = None
    emotion_intensity: float | None = None
    head_motion: str | None = None
    personal_speech: bool | None = None

    def validate(self, config: PipelineConfig = PipelineConfig()) -> tuple[RenderConfig, MotionConfig]:
        """This request's render and motion configs (`config` with the request's overrides), after checking
        every option and path: numbers finite and in range, choices known, the image file's header readable
        and its size within limits, the audio file present, the output a writable .mp4 path that is not one
        of the inputs. Cheap (no pixels or samples are decoded). Raises InputError saying what to fix."""
        from vasa3d import validate as v

        if self.image is None:
            raise InputError("give a portrait photo (a file path, a numpy array [H, W, 3] or a PIL image)")
        if self.audio is None:
            raise InputError("give the speech (a file path or a (wave, sample_rate) pair)")
        if _is_avatar_file(self.image):
            v.check_input_file(self.image, "avatar")
        elif isinstance(self.image, (str, os.PathLike)):
            v.check_image_file(self.image)
        if isinstance(self.audio, (str, os.PathLike)):
            v.check_audio_file(self.audio)
        if self.transcript is not None and not isinstance(self.transcript, str):
            raise InputError(f"transcript must be text, got a {type(self.transcript).__name__}")
        v.check_output_path(self.output, inputs=(self.image, self.audio))

        def pick(value, default):
            return default if value is None else value

        rc, mc = config.render, config.motion
        render_cfg = v.check_render_config(replace(
            rc, yaw_deg=pick(self.yaw_deg, rc.yaw_deg), pitch_deg=pick(self.pitch_deg, rc.pitch_deg),
            camera_path=pick(self.camera_path, rc.camera_path), size=pick(self.size, rc.size),
            fps=pick(self.fps, rc.fps), backend=pick(self.backend, rc.backend), device=pick(self.device, rc.device)))
        motion_cfg = v.check_motion_config(replace(
            mc, fps=render_cfg.fps, seed=pick(self.seed, mc.seed),
            expression_scale=pick(self.expression_scale, mc.expression_scale),
            head_motion_scale=pick(self.head_motion_scale, mc.head_motion_scale),
            language=pick(self.language, mc.language), emotion=pick(self.emotion, mc.emotion),
            emotion_intensity=pick(self.emotion_intensity, mc.emotion_intensity),
            head_motion=pick(self.head_motion, mc.head_motion),
            personal_speech=bool(pick(self.personal_speech, mc.personal_speech))))
        return replace(render_cfg, size=int(render_cfg.size)), replace(motion_cfg, seed=int(motion_cfg.seed))


@dataclass
class TalkResult:
    """What a run produced: the video path, its frame count and duration (s), the rasterizer backend that ran,
    the number of Gaussians, seconds per stage, the device posing and rasterizing ran on, and the mouth model that
    spoke ("personal": the avatar's own speech model, see `vasa3d.motion.personal`; else "generic")."""

    video: Path
    num_frames: int
    duration_s: float
    backend: str
    num_gaussians: int
    timings: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    speech_model: str = "generic"


def build_avatar(source, face_config: FaceConfig = FaceConfig(), avatar_config: AvatarConfig = AvatarConfig()):
    """An `Avatar` from a portrait (path, PIL image or RGB array): face analysis (`vasa3d.face`), then the
    single-photo builder (`Avatar.from_observation`). Raises InputError for an unreadable image or no usable face."""
    from vasa3d.avatar import Avatar
    from vasa3d.face import analyze_face
    from vasa3d.io.image import read_image

    obs = analyze_face(read_image(source), face_config)
    return Avatar.from_observation(obs, avatar_config, face_config)


def _is_avatar_file(source) -> bool:
    """True when `source` is the path of a saved avatar (.npz) rather than a photo."""
    return isinstance(source, (str, os.PathLike)) and str(source).lower().endswith(".npz")


def _hash_image(image: np.ndarray) -> str:
    h = hashlib.sha256()
    h.update(str(image.shape).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


class TalkingHeadPipeline:
    """Portrait + speech -> talking-head video.

    Thread-safe for concurrent requests (the avatar cache is locked; nothing else is shared). Avatars are cached
    in memory (LRU, `cache_size` entries) keyed by a SHA-256 of the decoded pixels and the face/avatar configs.
    """

    def __init__(self, config: PipelineConfig = PipelineConfig(), cache_size: int = 4):
        self.config = config
        self._cache: OrderedDict[str, object] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def build_avatar(self, image):
        """`Avatar` for a portrait (path, PIL image or array), from the cache when the same pixels were seen; an
        `Avatar`, or the path of a saved one (.npz, e.g. fitted with `vasa3d fit`), is used as it is.
        Raises InputError for an unreadable image or avatar file, or when no usable face is found."""
        from vasa3d.avatar import Avatar
        from vasa3d.io.image import read_image

        if isinstance(image, Avatar):
            return image
        if _is_avatar_file(image):
            return Avatar.load(image)
        pixels = read_image(image)
        key = _hash_image(pixels) + repr((self.config.face, self.config.avatar))
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        avatar = build_avatar(pixels, self.config.face, self.config.avatar)
        with self._lock:
            self._cache[key] = avatar
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return avatar

    def run(self, request: TalkRequest, progress: ProgressCallback | None = None) -> TalkResult:
        """Make the video of `request`; returns a `TalkResult`.

        Raises InputError for bad input (nothing is written then): options and paths are checked first
        (`TalkRequest.validate`), before any decoding, face analysis or rendering. The mp4 appears atomically
        when complete, replacing an older file there only then.
        """
        render_cfg, motion_cfg = request.validate(self.config)
        from vasa3d.avatar.view import FrameRenderer, resolve_target
        from vasa3d.io.audio import read_audio
        from vasa3d.io.video import write_video
        from vasa3d.motion import motion_from_audio

        resolve_target(render_cfg.backend, render_cfg.device)          # an unavailable GPU: say so before any work
        report = progress or (lambda fraction, message: None)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        report(0.0, "reading the speech")
        wave = read_audio(request.audio, sr=AUDIO_RATE)
        report(0.02, "analysing the face and building the avatar")
        avatar = self.build_avatar(request.image)
        timings["avatar_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        report(0.15, "computing lip sync and head motion")
        personal = getattr(avatar, "speech_model", None) if motion_cfg.personal_speech else None
        motion = motion_from_audio(wave, AUDIO_RATE, request.transcript, phones=request.phones, config=motion_cfg,
                                   personal=personal)
        timings["motion_s"] = time.perf_counter() - t1
        renderer = FrameRenderer(avatar, render_cfg.size, render_cfg.backend, render_cfg.device)
        angles = _camera_angles(render_cfg, motion.num_frames)
        t2 = time.perf_counter()

        def frames() -> Iterator[np.ndarray]:
            for i, frame in enumerate(render_frames(avatar, motion, angles, renderer=renderer)):
                if i % 5 == 0:
                    report(0.2 + 0.78 * i / motion.num_frames, f"rendering frame {i + 1}/{motion.num_frames}")
                yield frame

        out = write_video(request.output, frames(), render_cfg.fps, wave, AUDIO_RATE)
        timings["render_and_encode_s"] = time.perf_counter() - t2
        timings["total_s"] = time.perf_counter() - t0
        report(1.0, "done")
        return TalkResult(video=Path(out), num_frames=motion.num_frames, duration_s=len(wave) / AUDIO_RATE,
                          backend=renderer.backend, num_gaussians=avatar.num_gaussians, timings=timings,
                          device=str(renderer.device), speech_model="generic" if personal is None else "personal")


def _camera_angles(cfg, num_frames: int) -> np.ndarray:
    from vasa3d.render.cameras import camera_path

    return camera_path(cfg.camera_path, num_frames, cfg.fps, math.radians(cfg.yaw_deg), math.radians(cfg.pitch_deg))


def render_frames(avatar, motion, angles: np.ndarray, size: int | None = None, backend: str = "auto",
                  device: str = "cpu", renderer=None) -> Iterator[np.ndarray]:
    """Render the frames of `motion` one by one.

    Args:
        avatar: an `Avatar`; motion: a `MotionSequence` with T frames; angles: float32 [T, 2] camera (yaw, pitch)
        in radians (see `vasa3d.render.cameras.camera_path`); size: output side in pixels; backend: rasterizer;
        device: where posing and rasterizing run ("auto", "cpu", "cuda"); renderer: a `FrameRenderer` of this
        avatar to use instead of making one from size/backend/device.
    Yields:
        uint8 [size, size, 3] RGB frames, the avatar composited over its background plate.
    """
    from vasa3d.avatar import FramePose
    from vasa3d.avatar.view import FrameRenderer

    renderer = renderer or FrameRenderer(avatar, size, backend, device)
    names = tuple(motion.names)
    for t in range(motion.num_frames):
        pose = FramePose(names=names, coeffs=motion.coeffs[t], head_rotation=motion.head_rotation[t],
                         head_translation=motion.head_translation[t], gaze=motion.gaze[t])
        yield renderer.render(pose, float(angles[t, 0]), float(angles[t, 1]))


def render_video(avatar, motion, camera_path: np.ndarray, size: int, output: Path, audio: np.ndarray | None = None,
                 audio_sr: int = AUDIO_RATE, backend: str = "auto", device: str = "cpu") -> Path:
    """Render `motion` on `avatar` along `camera_path` ([T, 2] yaw, pitch in rad) into an mp4 at `output`
    (H.264, plus AAC when `audio` [S] float32 is given). Written atomically; returns the path."""
    from vasa3d.io.video import write_video

    return write_video(output, render_frames(avatar, motion, camera_path, size, backend, device), motion.fps, audio,
                       audio_sr)
