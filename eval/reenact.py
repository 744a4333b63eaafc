"""The self-reenactment protocol: methods that can be driven by a video are also scored driven by the real video.

Audio-driven results move differently from the real head, so LPIPS/PSNR/SSIM against the real video compare
different poses (the audio-driven rows are judged by sync, motion and naturalness instead). Where a case has a
real video, every *drivable* method is given that video: it animates the case's portrait with the motion tracked
from it, in the video's own frame geometry, with its audio; the result is scored like any other video (rows named
`<method>@reenact`), so the image metrics compare the same poses. This is the protocol of the one-shot
reenactment literature (e.g. LivePortrait, GaussianAvatars' self-reenactment on held-out frames).

A drivable method is any object with `name` and `drive(case, driving_video, out_path) -> MethodVideo` (the
`Drivable` protocol). Built in (`DRIVABLE`):
- `groundtruth`: the driving video itself (the upper bound: LPIPS 0, PSNR inf);
- `static`: the portrait held still at the video's frame size (the lower bound: no motion at all);
- `vasa3d`: `vasa3d build PORTRAIT -o AVATAR.npz`, then `vasa3d reenact AVATAR.npz DRIVING.mp4 -o OUT.mp4`
  as subprocesses; where this installation's `vasa3d` has no `reenact` command the row is null with the reason
  "reenact not available".
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Protocol

from eval.bench import Case
from eval.methods import AUDIO_SR, FPS, MethodVideo

SUFFIX = "@reenact"


class Drivable(Protocol):
    """A method that can be driven by a video (see the module docstring)."""

    name: str

    def drive(self, case: Case, driving_video: Path, out_path: Path) -> MethodVideo:
        """Animate `case.portrait` with the motion of `driving_video` into `out_path` (its frame size and audio);
        problems with the inputs come back as a MethodVideo without video and with the reason."""


class GroundTruthDrive:
    """The driving video itself."""

    name = "groundtruth"

    def drive(self, case: Case, driving_video: Path, out_path: Path) -> MethodVideo:
        return MethodVideo(Path(driving_video), turn_reason="a recorded video cannot turn the head")


class StaticDrive:
    """The portrait held still at the driving video's frame size, with its audio."""

    name = "static"

    def drive(self, case: Case, driving_video: Path, out_path: Path) -> MethodVideo:
        import cv2

        from vasa3d.io import probe_media, read_audio, read_image_u8, write_video

        info = probe_media(driving_video).video
        photo = cv2.resize(read_image_u8(case.portrait), (info.width, info.height), interpolation=cv2.INTER_AREA)
        wave = read_audio(driving_video, sr=AUDIO_SR)
        n = max(1, info.n_frames or math.ceil(info.duration_s * info.fps))
        out_path.parent.mkdir(parents=True, exist_ok=True)
        write_video(out_path, (photo for _ in range(n)), info.fps or FPS, wave, AUDIO_SR)
        return MethodVideo(out_path)


def reenact_available() -> bool:
    """True when this installation's `vasa3d` command has a `reenact` subcommand."""
    from vasa3d import cli

    return "reenact" in getattr(cli, "COMMANDS", {})


class Vasa3dReenact:
    """`vasa3d build` + `vasa3d reenact` as subprocesses (null with the reason where reenact is missing)."""

    name = "vasa3d"

    def drive(self, case: Case, driving_video: Path, out_path: Path) -> MethodVideo:
        if not reenact_available():
            return MethodVideo(None, "reenact not available")
        out_path.parent.mkdir(parents=True, exist_ok=True)
        avatar = out_path.with_suffix(".avatar.npz")
        for cmd in (["build", str(case.portrait), "-o", str(avatar)],
                    ["reenact", str(avatar), str(driving_video), "-o", str(out_path), "--same-person"]):
            run = subprocess.run([sys.executable, "-m", "vasa3d.cli", *cmd], capture_output=True, text=True)
            if run.returncode != 0:
                last = (run.stderr.strip().splitlines() or ["no message"])[-1]
                return MethodVideo(None, f"vasa3d {cmd[0]} failed: {last}")
        return MethodVideo(out_path)


DRIVABLE: dict[str, type] = {"groundtruth": GroundTruthDrive, "static": StaticDrive, "vasa3d": Vasa3dReenact}


def drivable(name: str) -> Drivable:
    """The built-in drivable method `name`; ValueError when unknown."""
    if name not in DRIVABLE:
        raise ValueError(f"no drivable method {name!r}; choose from {', '.join(DRIVABLE)}")
    return DRIVABLE[name]()


def drive_case(method: Drivable, case: Case, out_dir: Path) -> MethodVideo:
    """`method` driven by `case.video` into `OUT/videos/<name>@reenact/<case>.mp4` (null without a real video)."""
    if case.video is None:
        return MethodVideo(None, "no real video to drive with")
    out = Path(out_dir) / "videos" / f"{method.name}{SUFFIX}" / f"{case.name}.mp4"
    return method.drive(case, case.video, out)
