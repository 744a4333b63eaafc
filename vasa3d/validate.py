"""Checks of every user option and path, run before any face analysis, motion or rendering starts.

One place for the limits, read by the CLI, the Python API (`TalkRequest.validate`) and the web app. Each check
raises `InputError` whose message names the option and says what to fix. The checks are cheap: numbers, choices,
file existence, and image headers (never pixel data).

Limits (documented in `vasa3d talk --help`):
- expression and head-motion scales in [0, 3] (0 = still, 1 = natural, above 3 the rig leaves its range);
- yaw within +-90 degrees, pitch within +-60 degrees (the unseen back of the head is only completed roughly);
- size an even number of pixels in [64, 2048]; fps in [1, 60]; seed an integer in [0, 2**32 - 1];
- the output video ends in .mp4 (H.264 + AAC in an MP4 container), its folder exists and is writable, it is not
  a folder, and it is not one of the inputs (an existing output is replaced atomically when the run succeeds).
"""

from __future__ import annotations

import math
import numbers
import os
import typing
from collections.abc import Iterable
from pathlib import Path

from vasa3d.config import Backend, CameraPathKind, MotionConfig, RenderConfig
from vasa3d.errors import InputError

MAX_MOTION_SCALE = 3.0
MAX_EMOTION_INTENSITY = 2.0
MAX_YAW_DEG = 90.0
MAX_PITCH_DEG = 60.0
MIN_SIZE_PX, MAX_SIZE_PX = 64, 2048
MIN_FPS, MAX_FPS = 1.0, 60.0
MAX_SEED = 2**32 - 1
VIDEO_SUFFIXES = (".mp4",)
CAMERA_PATHS = typing.get_args(CameraPathKind)
BACKENDS = typing.get_args(Backend)
_AUDIO_SUFFIXES = {".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".opus", ".webm"}
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def check_number(name: str, value, lo: float, hi: float, *, integer: bool = False) -> float | int:
    """`value` as a float (or int when `integer`) within [lo, hi].

    Raises InputError naming `name` for a non-number (bool and str included), NaN, infinity, a non-integer where
    an integer is needed, or a value outside [lo, hi].
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a number between {lo:g} and {hi:g}, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"{name} must be a finite number between {lo:g} and {hi:g}, got {number}")
    if integer and not number.is_integer():
        raise InputError(f"{name} must be a whole number between {lo:g} and {hi:g}, got {number:g}")
    if not lo <= number <= hi:
        raise InputError(f"{name} must be between {lo:g} and {hi:g}, got {number:g}")
    return int(value) if integer else number


def check_choice(name: str, value, choices: Iterable[str]) -> str:
    """`value` if it is one of `choices`; else InputError listing them."""
    choices = tuple(choices)
    if value not in choices:
        raise InputError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def check_render_config(cfg: RenderConfig) -> RenderConfig:
    """`cfg` if every field is in range (size even in [64, 2048] px, fps in [1, 60], yaw within +-90 degrees,
    pitch within +-60 degrees, a known camera path, backend and device); else InputError saying which field."""
    size = check_number("size", cfg.size, MIN_SIZE_PX, MAX_SIZE_PX, integer=True)
    if size % 2:
        raise InputError(f"size must be an even number of pixels (H.264 needs it), got {size}")
    check_number("fps", cfg.fps, MIN_FPS, MAX_FPS)
    check_number("yaw (degrees)", cfg.yaw_deg, -MAX_YAW_DEG, MAX_YAW_DEG)
    check_number("pitch (degrees)", cfg.pitch_deg, -MAX_PITCH_DEG, MAX_PITCH_DEG)
    check_choice("camera path", cfg.camera_path, CAMERA_PATHS)
    check_choice("backend", cfg.backend, BACKENDS)
    check_device(cfg.device)
    check_choice("encoder preset", cfg.encoder_preset, X264_PRESETS)
    check_number("crf", cfg.crf, 0, 51, integer=True)
    return cfg


DEVICE_FORMS = "auto, cpu, cuda or cuda:N"
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def check_device(device) -> str:
    """`device` if it names a device this product runs on (auto, cpu, cuda, cuda:N; whether a GPU is there is
    checked when rendering starts); else InputError."""
    import re

    if not isinstance(device, str) or not re.fullmatch(r"auto|cpu|cuda(:\d+)?", device):
        raise InputError(f"device must be one of {DEVICE_FORMS}, got {device!r}")
    return device


def check_motion_config(cfg: MotionConfig) -> MotionConfig:
    """`cfg` if its scales are in [0, 3], its seed an integer in [0, 2**32 - 1] and its fps in [1, 60];
    else InputError saying which field."""
    check_number("expression scale", cfg.expression_scale, 0.0, MAX_MOTION_SCALE)
    check_number("head-motion scale", cfg.head_motion_scale, 0.0, MAX_MOTION_SCALE)
    check_number("seed", cfg.seed, 0, MAX_SEED, integer=True)
    check_number("fps", cfg.fps, MIN_FPS, MAX_FPS)
    check_language(cfg.language)
    from vasa3d.motion.emotion import EMOTIONS, HEAD_MOTION_GAIN

    check_choice("emotion", cfg.emotion, tuple(EMOTIONS))
    check_number("emotion intensity", cfg.emotion_intensity, 0.0, MAX_EMOTION_INTENSITY)
    check_choice("head motion", cfg.head_motion, tuple(HEAD_MOTION_GAIN))
    return cfg


def check_language(code) -> str:
    """`code` if it is "" (English or unknown) or an espeak-ng voice code espeak-ng has ("fr", "es", "de",
    "cmn", "en-gb", ...); else InputError."""
    import re

    if code == "":
        return code
    if not isinstance(code, str) or not re.fullmatch(r"[A-Za-z]{2,3}([-_+][A-Za-z0-9]+)*", code):
        raise InputError(f"language must be an espeak-ng voice code such as fr, es, de, cmn, got {code!r}")
    from vasa3d.io.tts import has_voice

    if not has_voice(code):
        raise InputError(f"espeak-ng has no voice for language {code!r}; try fr, es, de, it, pt, ru, ja, cmn")
    return code


def check_input_file(path, what: str) -> Path:
    """`path` as a Path if it names an existing file; else InputError ('does not exist', 'is a directory')."""
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise InputError(f"give the {what} as a file path, got {path!r}")
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} file '{path}' does not exist; check the path")
    if path.is_dir():
        raise InputError(f"{what} '{path}' is a directory; give a file")
    return path


def check_image_file(path) -> Path:
    """An existing image file whose header is readable and whose size is within the limits (no pixels decoded).
    Raises InputError otherwise, with a hint when the file looks like audio (image and audio swapped)."""
    from vasa3d.io.image import probe_image

    path = check_input_file(path, "image")
    if path.suffix.lower() in _AUDIO_SUFFIXES:
        raise InputError(f"image '{path}' looks like an audio file; give the portrait first, then the speech "
                         "(vasa3d talk IMAGE AUDIO -o OUT.mp4)")
    probe_image(path)
    return path


def check_audio_file(path) -> Path:
    """An existing audio (or video) file, not an image; raises InputError otherwise. Decoding checks the rest."""
    path = check_input_file(path, "audio")
    if path.suffix.lower() in _IMAGE_SUFFIXES:
        raise InputError(f"audio '{path}' looks like an image; give the portrait first, then the speech "
                         "(vasa3d talk IMAGE AUDIO -o OUT.mp4)")
    return path


def check_output_path(output, inputs: Iterable = (), suffixes: tuple[str, ...] = VIDEO_SUFFIXES) -> Path:
    """`output` as a Path if a file can be written there without harm.

    It must end in one of `suffixes` (case-insensitive), its folder must exist and be writable, it must not be a
    folder, and it must not be the same file as any path in `inputs` (non-path inputs are ignored). An existing
    file there is allowed: writers replace it atomically when the run succeeds. Raises InputError otherwise.
    """
    if not isinstance(output, (str, os.PathLike)) or not str(output):
        raise InputError(f"give the output as a file path ending in {' or '.join(suffixes)}, got {output!r}")
    path = Path(output)
    if path.is_dir():
        raise InputError(f"output '{path}' is a folder; give a file name such as '{path / ('talk' + suffixes[0])}'")
    for source in inputs:
        if isinstance(source, (str, os.PathLike)) and _same_file(path, Path(source)):
            raise InputError(f"output '{path}' is one of the inputs; choose another output name so the input "
                             "is not overwritten")
    if path.suffix.lower() not in suffixes:
        raise InputError(f"output '{path}' must end in {' or '.join(suffixes)} (that is the file type written); "
                         f"for example '{path.with_suffix(suffixes[0])}'")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"the output folder '{parent}' does not exist; create it first or choose another -o")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write in the output folder '{parent}'; choose another -o")
    return path


def _same_file(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()
