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
    head_pose: an ARKit CSV or a video of a face whose head rotation and translation drive the head instead of the
    speech's prosody (`vasa3d.video_mode.head_pose_track`); the body then follows the head's translation, as the
    filmed person's does. personal_speech: an avatar fitted to a video speaks
    with its person's own mouth model (False: the generic one). output: where the mp4 goes. fragmented: write it
    as a fragmented mp4 that a player can open while it is being written, at
    `vasa3d.io.video.partial_path(output)`, renamed to `output` when complete. The rest override
    `PipelineConfig.render` / `.motion` for this request only;
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
    head_pose: str | os.PathLike | None = None
    fragmented: bool = False
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
        if self.head_pose is not None:
            v.check_input_file(self.head_pose, "head-pose track")
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
    spoke ("personal": the avatar's own speech model, see `vasa3d.motion.personal`; else "generic"); also the
    `Avatar` and the `MotionSequence` it rendered (for exports: the .ply, the ARKit CSV, the browser viewer)."""

    video: Path
    num_frames: int
    duration_s: float
    backend: str
    num_gaussians: int
    timings: dict[str, float] = field(default_factory=dict)
    device: str = "cpu"
    speech_model: str = "generic"
    avatar: object = field(default=None, repr=False, compare=False)
    motion: object = field(default=None, repr=False, compare=False)


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

    def run(self, request: TalkRequest, progress: ProgressCallback | None = None,
            on_segment: Callable[[Path], None] | None = None, segment_dir: Path | None = None,
            segment_s: float = 1.0, first_segment_s: float = 0.5) -> TalkResult:
        """Make the video of `request`; returns a `TalkResult`.

        Raises InputError for bad input (nothing is written then): options and paths are checked first
        (`TalkRequest.validate`), before any decoding, face analysis or rendering. The mp4 appears atomically
        when complete, replacing an older file there only then.

        Stages overlap where they can: the motion is computed while the avatar is built, posing runs a frame
        ahead of rasterizing (`render_frames`), and the encoder takes each frame as it is drawn.

        Streaming: with `on_segment`, the video is also cut into self-contained mp4 segments (H.264 + AAC) of
        `segment_s` seconds (the first one `first_segment_s`, so a player starts sooner) written into
        `segment_dir` (an existing directory the caller owns), and `on_segment(path)` is called as each one is
        finished, from the encoder's worker thread (`WriteBehind`; keep it short and thread-safe, e.g. a queue's
        put); the mp4 at `request.output` is then joined from them without re-encoding.

        Timings: avatar_s, motion_s (overlapped with the avatar), first_frame_s (from the start),
        render_and_encode_s, total_s.
        """
        render_cfg, motion_cfg = request.validate(self.config)
        from vasa3d.avatar.view import FrameRenderer, resolve_target
        from vasa3d.io.audio import read_audio
        from vasa3d.io.video import SegmentedVideoWriter, VideoWriter

        if on_segment is not None and (segment_dir is None or not Path(segment_dir).is_dir()):
            raise ValueError("streaming segments needs segment_dir, an existing directory")
        resolve_target(render_cfg.backend, render_cfg.device)          # an unavailable GPU: say so before any work
        report = progress or (lambda fraction, message: None)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        report(0.0, "reading the speech")
        wave = read_audio(request.audio, sr=AUDIO_RATE)
        report(0.02, "building the avatar and computing lip sync and head motion")
        avatar, motion, personal = self._avatar_and_motion(request, wave, motion_cfg, timings)
        # a head pose tracked from a video moves across the frame: the body goes with it (as in `reenact`)
        renderer = FrameRenderer(avatar, render_cfg.size, render_cfg.backend, render_cfg.device,
                                 body_follows_head=request.head_pose is not None)
        angles = _camera_angles(render_cfg, motion.num_frames)
        t2 = time.perf_counter()
        if on_segment is not None:
            writer = SegmentedVideoWriter(request.output, render_cfg.fps, wave, AUDIO_RATE, segment_dir=segment_dir,
                                          segment_s=segment_s, first_segment_s=first_segment_s,
                                          on_segment=on_segment, crf=render_cfg.crf,
                                          preset=render_cfg.encoder_preset)
        else:
            writer = VideoWriter(request.output, render_cfg.fps, wave, AUDIO_RATE, crf=render_cfg.crf,
                                 preset=render_cfg.encoder_preset, fragmented=request.fragmented)
        with writer, WriteBehind(writer.write) as write:
            for i, frame in enumerate(render_frames(avatar, motion, angles, renderer=renderer)):
                write(frame)
                if i == 0:
                    timings["first_frame_s"] = time.perf_counter() - t0
                if i % 5 == 0:
                    report(0.2 + 0.78 * i / motion.num_frames, f"rendering frame {i + 1}/{motion.num_frames}")
        timings["render_and_encode_s"] = time.perf_counter() - t2
        timings["total_s"] = time.perf_counter() - t0
        report(1.0, "done")
        return TalkResult(video=Path(request.output), num_frames=motion.num_frames,
                          duration_s=len(wave) / AUDIO_RATE, backend=renderer.backend,
                          num_gaussians=avatar.num_gaussians, timings=timings, device=str(renderer.device),
                          speech_model="personal" if personal else "generic",
                          avatar=avatar, motion=motion)

    def _avatar_and_motion(self, request: TalkRequest, wave: np.ndarray, motion_cfg, timings: dict):
        """(the request's avatar, its MotionSequence, whether the person's own speech model spoke). From a
        photo, the motion is computed in a worker thread while the avatar is built in this one (face analysis
        and speech recognition each keep a core busy); a saved or given avatar is loaded first, so that its
        person-specific speech model (`Avatar.speech_model`, unless `motion_cfg.personal_speech` is off) drives
        the mouth. Fills timings["avatar_s"] and ["motion_s"]; an exception of either is raised here once both
        have ended."""
        from vasa3d.avatar import Avatar

        if isinstance(request.image, Avatar) or _is_avatar_file(request.image):
            t = time.perf_counter()
            avatar = self.build_avatar(request.image)
            timings["avatar_s"] = time.perf_counter() - t
            personal = getattr(avatar, "speech_model", None) if motion_cfg.personal_speech else None
            return avatar, self._motion(request, wave, motion_cfg, personal, timings), personal is not None
        box: dict = {}

        def motion_job() -> None:
            try:
                box["motion"] = self._motion(request, wave, motion_cfg, None, timings)
            except BaseException as exc:  # re-raised in the caller
                box["error"] = exc

        worker = threading.Thread(target=motion_job, name="vasa3d-motion", daemon=True)
        worker.start()
        t = time.perf_counter()
        try:
            avatar = self.build_avatar(request.image)
            timings["avatar_s"] = time.perf_counter() - t
        finally:
            worker.join()
        if "error" in box:
            raise box["error"]
        return avatar, box["motion"], False

    def _motion(self, request: TalkRequest, wave: np.ndarray, motion_cfg, personal, timings: dict):
        """The request's MotionSequence: `motion_from_audio` (with the person's speech model `personal`, or
        None), then the head pose from `request.head_pose` when given. Fills timings["motion_s"]."""
        from vasa3d.motion import motion_from_audio

        t = time.perf_counter()
        motion = motion_from_audio(wave, AUDIO_RATE, request.transcript, phones=request.phones, config=motion_cfg,
                                   personal=personal)
        if request.head_pose is not None:
            from vasa3d.video_mode import head_pose_track

            motion = motion.with_head_pose(head_pose_track(request.head_pose, self.config.face))
        timings["motion_s"] = time.perf_counter() - t
        return motion


def _camera_angles(cfg, num_frames: int) -> np.ndarray:
    from vasa3d.render.cameras import camera_path

    return camera_path(cfg.camera_path, num_frames, cfg.fps, math.radians(cfg.yaw_deg), math.radians(cfg.pitch_deg))


def render_frames(avatar, motion, angles: np.ndarray, size: int | None = None, backend: str = "auto",
                  device: str = "cpu", renderer=None, lookahead: int = 2) -> Iterator[np.ndarray]:
    """Render the frames of `motion` one by one, yielding each as soon as it is made.

    Posing runs one step ahead in a worker thread (`FrameRenderer.posed`, PyTorch) while the caller's thread
    rasterizes (`FrameRenderer.draw`, numba without the GIL), so the two overlap on a multi-core CPU; at most
    `lookahead` posed frames wait at any time. Closing the generator early stops the worker.

    Args:
        avatar: an `Avatar`; motion: a `MotionSequence` with T frames; angles: float32 [T, 2] camera (yaw, pitch)
        in radians (see `vasa3d.render.cameras.camera_path`); size: output side in pixels; backend: rasterizer;
        device: where posing and rasterizing run ("auto", "cpu", "cuda"); renderer: a `FrameRenderer` of this
        avatar to use instead of making one from size/backend/device; lookahead: posed frames kept ready
        (0: pose and draw in turn on the caller's thread).
    Yields:
        uint8 [size, size, 3] RGB frames, the avatar composited over its background plate.
    Raises:
        whatever posing raises, in the caller's thread, at the frame where it happened.
    """
    from vasa3d.avatar import FramePose
    from vasa3d.avatar.view import FrameRenderer

    renderer = renderer or FrameRenderer(avatar, size, backend, device)

    def posed() -> Iterator:
        for t in range(motion.num_frames):
            yield renderer.posed(FramePose.of(motion, t), float(angles[t, 0]), float(angles[t, 1]))

    for item in (run_ahead(posed(), lookahead) if lookahead > 0 else posed()):
        yield renderer.draw(item)


class WriteBehind:
    """Calls `write(item)` for each item given to it, in a worker thread, at most `depth` items behind the caller:
    the video encoder works on frame t while the caller draws frame t + 1 (PyAV and numba release the GIL).

    Use as a context manager: ``with WriteBehind(writer.write) as write: write(frame)``. On a clean exit it waits
    for every item to be written; an exception raised by `write` is re-raised in the caller at its next call or at
    the exit; if the block raises, the remaining items are dropped and the worker stops.
    """

    def __init__(self, write: Callable, depth: int = 2):
        import queue

        self._write = write
        self._box: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="vasa3d-write-behind", daemon=True)

    def __enter__(self) -> Callable:
        self._worker.start()
        return self.put

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self._stop.set()
        self._put_raw(None)
        self._worker.join()
        if exc_type is None and self._error is not None:
            raise self._error

    def put(self, item) -> None:
        """Hand `item` to the worker (blocks while `depth` items wait); raises the worker's error, if any."""
        if self._error is not None:
            raise self._error
        self._put_raw(item)

    def _put_raw(self, item) -> None:
        import queue

        while self._worker.is_alive():
            try:
                self._box.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _work(self) -> None:
        while True:
            item = self._box.get()
            if item is None or self._stop.is_set():
                return
            if self._error is None:
                try:
                    self._write(item)
                except BaseException as exc:  # handed to the caller
                    self._error = exc


def run_ahead(items: Iterator, depth: int = 2) -> Iterator:
    """Yield the items of `items`, produced by a daemon worker thread up to `depth` items ahead of the consumer.

    An exception raised by `items` is re-raised in the consumer at the position where it happened. When the
    consumer stops early (closes this generator, or it is garbage-collected) the worker stops at its next item.
    """
    import queue

    box: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()
    done = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as exc:  # handed to the consumer
            put((None, exc))
            return
        put((done, None))

    worker = threading.Thread(target=work, name="vasa3d-run-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = box.get()
            if exc is not None:
                raise exc
            if item is done:
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5.0)


def render_video(avatar, motion, camera_path: np.ndarray, size: int, output: Path, audio: np.ndarray | None = None,
                 audio_sr: int = AUDIO_RATE, backend: str = "auto", device: str = "cpu") -> Path:
    """Render `motion` on `avatar` along `camera_path` ([T, 2] yaw, pitch in rad) into an mp4 at `output`
    (H.264, plus AAC when `audio` [S] float32 is given). Written atomically; returns the path."""
    from vasa3d.io.video import write_video

    return write_video(output, render_frames(avatar, motion, camera_path, size, backend, device), motion.fps, audio,
                       audio_sr)
