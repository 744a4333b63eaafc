"""Methods under evaluation: each makes (or finds) one video per benchmark case.

- `vasa3d`: the full pipeline (`TalkingHeadPipeline().run`, fixed camera, `--size`), plus a few frames re-rendered
  with the camera turned 30 degrees (for csim_yaw30).
- `static`: the photo held still for the audio's length, with the audio: the square head crop vasa3d works on
  (`vasa3d.face.analyze_face`), resized to `--size`, so every generated method shows the same framing.
- `warp2d`: the same crop warped in 2D by the face mesh under vasa3d's motion (`eval.warp2d`); only its warping
  and encoding are timed (it shares vasa3d's face analysis, head model and motion).
- `groundtruth`: the case's real video (`video.mp4`) where there is one.
- external `NAME=DIR`: `DIR/<case>.mp4`, made by any other system.
Generated videos go to `OUT/videos/<method>/<key>.mp4` (H.264 + AAC, 25 fps) with a `<key>.json` of timings, where
`key` is a content hash of the method, its settings and the bytes of the case's portrait, audio and transcript
(`video_key`), never the case's name: two cases with the same inputs share a video, and a renamed case still finds it.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from eval.bench import Case

FPS = 25.0
AUDIO_SR = 16000
YAW_TURN_DEG = 30.0
TURNED_FRAMES = 5
BUILTIN = ("vasa3d", "static", "warp2d", "groundtruth")


@dataclass
class MethodVideo:
    """A method's output for one case: video path (None: none, see reason), timings (seconds, or None), frames
    rendered with the camera turned 30 degrees (uint8 [k, H, W, 3] or None, see turn_reason)."""

    video: Path | None
    reason: str | None = None
    timings: dict[str, float] | None = None
    turned: np.ndarray | None = None
    turn_reason: str = "a 2D method cannot turn the head"


class CaseInputs:
    """What the methods of one case share, computed on first use: the 16 kHz speech, vasa3d's motion, the avatar
    and the photo's face analysis. A fresh pipeline per case, so vasa3d's avatar build time is always measured."""

    def __init__(self, case: Case, size: int):
        from vasa3d.io import read_audio
        from vasa3d.pipeline import TalkingHeadPipeline

        self.case, self.size = case, size
        self.wave = read_audio(case.audio, sr=AUDIO_SR)
        self.pipeline = TalkingHeadPipeline()
        self._motion = self._obs = None

    @property
    def duration_s(self) -> float:
        return len(self.wave) / AUDIO_SR

    def motion(self):
        """vasa3d's MotionSequence for this audio (the same call and config as the pipeline's)."""
        if self._motion is None:
            from vasa3d.motion import motion_from_audio

            cfg = replace(self.pipeline.config.motion, fps=FPS)
            self._motion = motion_from_audio(self.wave, AUDIO_SR, self.case.transcript, config=cfg)
        return self._motion

    def avatar(self):
        """The case's Avatar (the pipeline's cache: built once per case)."""
        return self.pipeline.build_avatar(self.case.portrait)

    def observation(self):
        """`FaceObservation` of the portrait (the square crop vasa3d works on)."""
        if self._obs is None:
            from vasa3d.face import analyze_face
            from vasa3d.io import read_image

            self._obs = analyze_face(read_image(self.case.portrait), self.pipeline.config.face)
        return self._obs


def _file_digest(path: Path | None) -> str:
    if path is None:
        return "-"
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def video_key(method: str, case: Case, size: int) -> str:
    """24 hex digits of SHA-256 over the method, size, fps and the contents of the case's portrait, audio and
    transcript: the name of the method's cached video for this case."""
    h = hashlib.sha256()
    for part in (method, str(size), str(FPS), _file_digest(case.portrait), _file_digest(case.audio),
                 case.transcript or ""):
        h.update(part.encode("utf-8") + b"\0")
    return h.hexdigest()[:24]


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _reuse(path: Path) -> MethodVideo | None:
    """A video made by an earlier run (with its timings and turned frames), or None."""
    side = _sidecar(path)
    if not (path.exists() and side.exists()):
        return None
    meta = json.loads(side.read_text())
    turned_path = path.with_suffix(".turned.npz")
    turned = np.load(turned_path)["frames"] if turned_path.exists() else None
    return MethodVideo(path, None, meta.get("timings"), turned, meta.get("turn_reason", ""))


def _save(mv: MethodVideo) -> MethodVideo:
    _sidecar(mv.video).write_text(json.dumps({"timings": mv.timings, "turn_reason": mv.turn_reason}, indent=1))
    if mv.turned is not None:
        np.savez_compressed(mv.video.with_suffix(".turned.npz"), frames=mv.turned)
    return mv


def make_video(method: str, inputs: CaseInputs, out_dir: Path, externals: dict[str, Path], reuse: bool = False
               ) -> MethodVideo:
    """The video of `method` for `inputs.case` (see the module docstring). Problems with the inputs (no face in
    the photo, ...) come back as a MethodVideo without video and with the reason; nothing raises for them."""
    from vasa3d.errors import InputError

    case = inputs.case
    if method == "groundtruth":
        return MethodVideo(case.video, None if case.video else "no ground-truth video for this case",
                           turn_reason="a recorded video cannot turn the head")
    if method in externals:
        path = externals[method] / f"{case.name}.mp4"
        return MethodVideo(path if path.exists() else None, None if path.exists() else f"no {path}",
                           turn_reason="external videos have one viewpoint")
    path = out_dir / "videos" / method / f"{video_key(method, case, inputs.size)}.mp4"
    if reuse and (found := _reuse(path)) is not None:
        return found
    path.parent.mkdir(parents=True, exist_ok=True)
    makers = {"vasa3d": _vasa3d, "static": _static, "warp2d": _warp2d}
    if method not in makers:
        raise ValueError(f"unknown method {method!r}; choose from {BUILTIN} or give --external {method}=DIR")
    try:
        return _save(makers[method](inputs, path))
    except InputError as exc:
        return MethodVideo(None, f"{method} failed: {exc}")


def _vasa3d(inputs: CaseInputs, path: Path) -> MethodVideo:
    from vasa3d.pipeline import TalkRequest, render_frames

    case = inputs.case
    result = inputs.pipeline.run(TalkRequest(image=case.portrait, audio=case.audio, output=path,
                                             transcript=case.transcript, size=inputs.size, fps=FPS,
                                             camera_path="fixed", yaw_deg=0.0, pitch_deg=0.0))
    motion = inputs.motion()
    idx = np.linspace(0, motion.num_frames - 1, min(TURNED_FRAMES, motion.num_frames)).round().astype(int)
    sub = type(motion)(motion.fps, motion.names, motion.coeffs[idx], motion.head_rotation[idx],
                       motion.head_translation[idx], motion.gaze[idx])
    angles = np.tile(np.array([[math.radians(YAW_TURN_DEG), 0.0]], np.float32), (len(idx), 1))
    turned = np.stack(list(render_frames(inputs.avatar(), sub, angles, inputs.size, result.backend, result.device)))
    return MethodVideo(Path(result.video), None, dict(result.timings), turned, "")


def _photo_u8(inputs: CaseInputs) -> np.ndarray:
    import cv2

    crop = np.clip(inputs.observation().image * 255 + 0.5, 0, 255).astype(np.uint8)
    return cv2.resize(crop, (inputs.size, inputs.size), interpolation=cv2.INTER_AREA)


def _static(inputs: CaseInputs, path: Path) -> MethodVideo:
    from vasa3d.io import write_video

    photo = _photo_u8(inputs)
    n = max(1, math.ceil(inputs.duration_s * FPS - 1e-9))
    write_video(path, (photo for _ in range(n)), FPS, inputs.wave, AUDIO_SR)
    return MethodVideo(path)


def _warp2d(inputs: CaseInputs, path: Path) -> MethodVideo:
    from vasa3d.io import write_video

    from eval.warp2d import warp_frames

    avatar, obs, motion = inputs.avatar(), inputs.observation(), inputs.motion()
    t0 = time.perf_counter()
    write_video(path, warp_frames(obs.image, avatar, motion, inputs.size), FPS, inputs.wave, AUDIO_SR)
    return MethodVideo(path, None, {"render_and_encode_s": time.perf_counter() - t0})
