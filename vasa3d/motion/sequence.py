"""`MotionSequence`: per-frame rig coefficients, head pose and gaze, with npz/json and ARKit CSV I/O.

Conventions (head frame of DESIGN.md: +x to the viewer's right, +y up, +z out of the face):
- `coeffs [T, K]` float32 in [0, 1], column k is the ARKit blendshape `names[k]`.
- `head_rotation [T, 3]` float32 axis-angle (radians) of the head relative to its rest pose, in the head frame; the
  renderer applies it about the neck pivot. A positive x component tips the face down (a nod), a positive y
  component turns the face towards +x (the viewer's right), a positive z component rolls the top of the head
  towards -x.
- `head_translation [T, 3]` float32 metres in the head frame.
- `gaze [T, 2]` float32 (yaw, pitch) radians of both eyes relative to the head: +yaw turns the eyes towards +x (the
  viewer's right), +pitch turns them up. Gaze direction in the head frame:
  (sin(yaw) cos(pitch), sin(pitch), cos(yaw) cos(pitch)).
- Frame i is shown at time i / fps seconds.

The ARKit CSV follows the Live Link Face layout: `Timecode,BlendShapeCount,<52 ARKit names with a capital
first letter>,HeadYaw,HeadPitch,HeadRoll,LeftEyeYaw,LeftEyePitch,LeftEyeRoll,RightEyeYaw,RightEyePitch,
RightEyeRoll`, timecode `HH:MM:SS:FF.mmm` (FF the frame within the second, .mmm the fraction of a frame). Head and
eye angles are written in radians with this module's signs: HeadYaw about +y, HeadPitch about +x, HeadRoll about
+z, composed as R = Ry(yaw) Rx(pitch) Rz(roll). Head translation is not part of that layout and is lost.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vasa3d.arkit import ARKIT_BLENDSHAPES, check_names

_COEFF_TOLERANCE = 1e-5
"""Coefficients may leave [0, 1] by this much (float rounding) and are then clipped; further out is an error."""

CSV_POSE_COLUMNS: tuple[str, ...] = (
    "HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
    "RightEyeYaw", "RightEyePitch", "RightEyeRoll",
)
"""The 9 pose columns after the 52 blendshapes in a Live Link Face CSV."""


def _csv_name(name: str) -> str:
    return name[0].upper() + name[1:]


@dataclass
class MotionSequence:
    """Motion of a talking head: T frames of rig coefficients, head pose and gaze (see the module docstring).

    Fields are converted to contiguous float32 on construction. Raises ValueError on a bad shape, a non-finite
    value, a coefficient outside [0, 1], an unknown or repeated ARKit name, or fps <= 0.
    """

    fps: float
    names: tuple[str, ...]
    coeffs: np.ndarray
    head_rotation: np.ndarray
    head_translation: np.ndarray
    gaze: np.ndarray

    def __post_init__(self) -> None:
        self.fps = float(self.fps)
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be a positive number, got {self.fps}")
        self.names = tuple(str(n) for n in self.names)
        check_names(self.names)
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"blendshape names must be unique, got {self.names}")
        self.coeffs = _as_f32("coeffs", self.coeffs, (None, len(self.names)))
        t = self.coeffs.shape[0]
        self.head_rotation = _as_f32("head_rotation", self.head_rotation, (t, 3))
        self.head_translation = _as_f32("head_translation", self.head_translation, (t, 3))
        self.gaze = _as_f32("gaze", self.gaze, (t, 2))
        if self.coeffs.size:
            lo, hi = float(self.coeffs.min()), float(self.coeffs.max())
            if lo < -_COEFF_TOLERANCE or hi > 1 + _COEFF_TOLERANCE:
                raise ValueError(f"coeffs must lie in [0, 1], got range [{lo:.4g}, {hi:.4g}]")
            np.clip(self.coeffs, 0.0, 1.0, out=self.coeffs)
        if self.gaze.size and float(np.abs(self.gaze).max()) >= math.pi / 2:
            raise ValueError("gaze angles must lie in (-pi/2, pi/2) radians")
        if self.head_rotation.size and float(np.linalg.norm(self.head_rotation, axis=1).max()) > math.pi:
            raise ValueError("head_rotation angles (axis-angle norms) must be at most pi radians")

    # ------------------------------------------------------------------ basic access
    @property
    def num_frames(self) -> int:
        """T, the number of frames."""
        return int(self.coeffs.shape[0])

    @property
    def duration_s(self) -> float:
        """T / fps, seconds."""
        return self.num_frames / self.fps

    @property
    def times_s(self) -> np.ndarray:
        """[T] float64 seconds at which each frame is shown (i / fps)."""
        return np.arange(self.num_frames) / self.fps

    def coeff(self, name: str) -> np.ndarray:
        """[T] float32 coefficient track of ARKit blendshape `name`; zeros if the sequence does not drive it.

        Raises ValueError for a name that is not an ARKit blendshape.
        """
        check_names([name])
        if name in self.names:
            return self.coeffs[:, self.names.index(name)]
        return np.zeros(self.num_frames, np.float32)

    @classmethod
    def rest(cls, num_frames: int, fps: float, names: tuple[str, ...] = ()) -> MotionSequence:
        """A still, neutral sequence of `num_frames` frames (all coefficients, pose and gaze zero)."""
        return cls(fps, tuple(names), np.zeros((num_frames, len(names)), np.float32),
                   np.zeros((num_frames, 3), np.float32), np.zeros((num_frames, 3), np.float32),
                   np.zeros((num_frames, 2), np.float32))

    def slice(self, start: int, stop: int | None = None) -> MotionSequence:
        """Frames [start, stop) (Python slice semantics) as a new sequence with the same fps and names."""
        s = slice(start, stop)
        return MotionSequence(self.fps, self.names, self.coeffs[s].copy(), self.head_rotation[s].copy(),
                              self.head_translation[s].copy(), self.gaze[s].copy())

    def resample(self, fps: float, num_frames: int | None = None) -> MotionSequence:
        """Linear resampling to `fps`; num_frames defaults to ceil(duration_s * fps).

        Rotations are interpolated component-wise in axis-angle, which is accurate for the small head angles
        that talking heads use. Raises ValueError for fps <= 0.
        """
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        n = int(math.ceil(self.duration_s * fps - 1e-9)) if num_frames is None else int(num_frames)
        t_new = np.arange(n) / fps
        t_old = self.times_s

        def interp(a: np.ndarray) -> np.ndarray:
            if self.num_frames == 0:
                return np.zeros((n, a.shape[1]), np.float32)
            return np.stack([np.interp(t_new, t_old, a[:, k]) for k in range(a.shape[1])], axis=1) \
                if a.shape[1] else np.zeros((n, 0), np.float32)

        return MotionSequence(fps, self.names, interp(self.coeffs), interp(self.head_rotation),
                              interp(self.head_translation), interp(self.gaze))

    def with_head_pose(self, pose: MotionSequence) -> MotionSequence:
        """This sequence with its head rotation and translation taken from `pose` (another sequence, e.g. an
        ARKit CSV or a tracked video, at any fps); coefficients and gaze are kept.

        `pose` is resampled to this sequence's fps; when it is shorter than this sequence it is played forwards
        and backwards in turn (ping-pong), so the head never jumps back to the start. Raises ValueError for an
        empty `pose`.
        """
        if pose.num_frames == 0:
            raise ValueError("the head-pose track has no frames")
        src = pose.resample(self.fps, max(1, int(math.ceil(pose.duration_s * self.fps - 1e-9))))
        period = max(1, 2 * src.num_frames - 2)
        k = np.arange(self.num_frames) % period
        k = np.where(k < src.num_frames, k, period - k)
        return MotionSequence(self.fps, self.names, self.coeffs.copy(), src.head_rotation[k].copy(),
                              src.head_translation[k].copy(), self.gaze.copy())

    # ------------------------------------------------------------------ npz / json
    def save(self, path: str | os.PathLike) -> None:
        """Write the sequence to `path` (.npz or .json by suffix) atomically (temp file + os.replace).

        Raises ValueError for another suffix.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".npz":
            def write(f):
                np.savez(f, fps=np.float64(self.fps), names=np.array(self.names, dtype=str),
                         coeffs=self.coeffs, head_rotation=self.head_rotation,
                         head_translation=self.head_translation, gaze=self.gaze)
            _atomic_write(path, write, binary=True)
        elif suffix == ".json":
            doc = {"format": "vasa3d.MotionSequence", "version": 1, "fps": self.fps, "names": list(self.names),
                   "coeffs": self.coeffs.tolist(), "head_rotation": self.head_rotation.tolist(),
                   "head_translation": self.head_translation.tolist(), "gaze": self.gaze.tolist()}
            _atomic_write(path, lambda f: json.dump(doc, f), binary=False)
        else:
            raise ValueError(f"unsupported motion file suffix {path.suffix!r}: use .npz or .json "
                             "(or to_arkit_csv for .csv)")

    @classmethod
    def load(cls, path: str | os.PathLike) -> MotionSequence:
        """Read a sequence written by `save` (.npz or .json) or an ARKit CSV (.csv, see `from_arkit_csv`).

        Raises FileNotFoundError for a missing file and ValueError for a malformed one.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return cls.from_arkit_csv(path)
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                missing = {"fps", "names", "coeffs", "head_rotation", "head_translation", "gaze"} - set(z.files)
                if missing:
                    raise ValueError(f"{path} is not a motion file: missing {sorted(missing)}")
                return cls(float(z["fps"]), tuple(z["names"].tolist()), z["coeffs"], z["head_rotation"],
                           z["head_translation"], z["gaze"])
        if suffix == ".json":
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
            try:
                n = len(doc["names"])
                t = len(doc["coeffs"])
                return cls(doc["fps"], tuple(doc["names"]), np.asarray(doc["coeffs"], np.float32).reshape(t, n),
                           np.asarray(doc["head_rotation"], np.float32).reshape(t, 3),
                           np.asarray(doc["head_translation"], np.float32).reshape(t, 3),
                           np.asarray(doc["gaze"], np.float32).reshape(t, 2))
            except (KeyError, TypeError) as e:
                raise ValueError(f"{path} is not a motion file: {e}") from e
        raise ValueError(f"unsupported motion file suffix {path.suffix!r}: use .npz, .json or .csv")

    # ------------------------------------------------------------------ ARKit CSV (Live Link Face)
    def to_arkit_csv(self, path: str | os.PathLike) -> None:
        """Write a Live Link Face style CSV (see the module docstring) atomically.

        Blendshapes this sequence does not drive are written as 0; both eyes get `gaze`; eye roll is 0.
        """
        header = ["Timecode", "BlendShapeCount", *(_csv_name(n) for n in ARKIT_BLENDSHAPES), *CSV_POSE_COLUMNS]
        full = np.zeros((self.num_frames, len(ARKIT_BLENDSHAPES)), np.float32)
        for k, name in enumerate(self.names):
            full[:, ARKIT_BLENDSHAPES.index(name)] = self.coeffs[:, k]
        ypr = _axis_angle_to_ypr(self.head_rotation.astype(np.float64))
        count = len(ARKIT_BLENDSHAPES) + len(CSV_POSE_COLUMNS)

        def write(f):
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            for i in range(self.num_frames):
                eye = [self.gaze[i, 0], self.gaze[i, 1], 0.0]
                row = [_timecode(i, self.fps), count, *full[i], *ypr[i], *eye, *eye]
                w.writerow([v if isinstance(v, (str, int)) else f"{float(v):.8g}" for v in row])

        _atomic_write(Path(path), write, binary=False)

    @classmethod
    def from_arkit_csv(cls, path: str | os.PathLike, fps: float | None = None,
                       names: tuple[str, ...] | None = None) -> MotionSequence:
        """Read a Live Link Face style CSV; rows are taken as consecutive frames.

        fps: frame rate; None infers it from the timecodes' frame field (needs at least one second of frames).
        names: which ARKit columns to keep (default all 52). Column names match case-insensitively; missing pose
        columns read as 0. Gaze is the mean of both eyes. Raises ValueError for a malformed file or when fps
        cannot be inferred.
        """
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
        if not rows:
            raise ValueError(f"{path}: empty CSV")
        col = {h.strip().lower(): j for j, h in enumerate(rows[0])}
        body = [r for r in rows[1:] if any(c.strip() for c in r)]
        names = tuple(ARKIT_BLENDSHAPES if names is None else names)
        check_names(names)
        missing = [n for n in names if n.lower() not in col]
        if missing:
            raise ValueError(f"{path}: missing blendshape column(s) {missing}")

        def column(name: str) -> np.ndarray:
            j = col.get(name.lower())
            if j is None:
                return np.zeros(len(body))
            try:
                return np.array([float(r[j]) for r in body])
            except (ValueError, IndexError) as e:
                raise ValueError(f"{path}: bad value in column {name!r}: {e}") from e

        coeffs = np.stack([column(n) for n in names], axis=1) if names else np.zeros((len(body), 0))
        ypr = np.stack([column(c) for c in CSV_POSE_COLUMNS[:3]], axis=1)
        gaze = 0.5 * (np.stack([column("LeftEyeYaw"), column("LeftEyePitch")], axis=1)
                      + np.stack([column("RightEyeYaw"), column("RightEyePitch")], axis=1))
        if fps is None:
            if "timecode" not in col:
                raise ValueError(f"{path}: no Timecode column; pass fps")
            fps = _infer_fps([r[col["timecode"]] for r in body], path)
        return cls(fps, names, np.clip(coeffs, 0.0, 1.0), _ypr_to_axis_angle(ypr),
                   np.zeros((len(body), 3)), gaze)


# ---------------------------------------------------------------------- helpers
def _as_f32(what: str, a, shape: tuple[int | None, int]) -> np.ndarray:
    a = np.ascontiguousarray(np.asarray(a, dtype=np.float32))
    if a.ndim == 1 and a.size == 0:
        a = a.reshape(0, shape[1])
    if a.ndim != 2 or a.shape[1] != shape[1] or (shape[0] is not None and a.shape[0] != shape[0]):
        want = f"[{'T' if shape[0] is None else shape[0]}, {shape[1]}]"
        raise ValueError(f"{what} must have shape {want}, got {list(a.shape)}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what} contains NaN or infinite values")
    return a


def _atomic_write(path: Path, write, binary: bool) -> None:
    """Write via a temp file in the same directory and os.replace, so readers never see a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8", "newline": ""})) as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _timecode(i: int, fps: float) -> str:
    """HH:MM:SS:FF.mmm of frame i: FF is the frame within the second, .mmm the fraction of a frame."""
    t = i / fps
    sec = math.floor(t + 1e-9)
    frames = (t - sec) * fps
    ff = math.floor(frames + 1e-6)
    frac = max(0.0, frames - ff)
    return f"{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}:{ff:02d}.{min(999, round(frac * 1000)):03d}"


def _infer_fps(codes: list[str], path) -> float:
    """Frame rate from Live Link timecodes: 1 + the largest frame field, once a second boundary is crossed."""
    try:
        parts = [c.strip().split(":") for c in codes]
        secs = [int(p[0]) * 3600 + int(p[1]) * 60 + int(p[2]) for p in parts]
        ffs = [float(p[3]) for p in parts]
    except (ValueError, IndexError) as e:
        raise ValueError(f"{path}: bad timecode ({e}); expected HH:MM:SS:FF.mmm") from e
    if len(set(secs)) < 2:
        raise ValueError(f"{path}: cannot infer the frame rate from less than one second of timecodes; pass fps")
    return float(math.floor(max(ffs)) + 1)


def _rot(axis: int, a: np.ndarray) -> np.ndarray:
    """[N,3,3] rotations by angles a [N] about coordinate axis 0/1/2 (right-handed)."""
    c, s = np.cos(a), np.sin(a)
    r = np.zeros((a.shape[0], 3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    r[:, axis, axis] = 1
    r[:, i, i], r[:, j, j], r[:, i, j], r[:, j, i] = c, c, -s, s
    return r


def _ypr_to_axis_angle(ypr: np.ndarray) -> np.ndarray:
    """[N,3] (yaw about +y, pitch about +x, roll about +z), R = Ry Rx Rz -> [N,3] axis-angle."""
    r = _rot(1, ypr[:, 0]) @ _rot(0, ypr[:, 1]) @ _rot(2, ypr[:, 2])
    return _matrix_to_axis_angle(r)


def _axis_angle_to_ypr(aa: np.ndarray) -> np.ndarray:
    """Inverse of `_ypr_to_axis_angle` (pitch within (-pi/2, pi/2))."""
    r = _axis_angle_to_matrix(aa)
    pitch = np.arcsin(np.clip(-r[:, 1, 2], -1, 1))
    yaw = np.arctan2(r[:, 0, 2], r[:, 2, 2])
    roll = np.arctan2(r[:, 1, 0], r[:, 1, 1])
    return np.stack([yaw, pitch, roll], axis=1)


def _axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    theta = np.linalg.norm(aa, axis=1)
    k = aa / np.maximum(theta, 1e-12)[:, None]
    kx = np.zeros((aa.shape[0], 3, 3))
    kx[:, 0, 1], kx[:, 0, 2], kx[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    kx = kx - kx.transpose(0, 2, 1)
    s, c = np.sin(theta)[:, None, None], np.cos(theta)[:, None, None]
    return np.eye(3) + s * kx + (1 - c) * kx @ kx


def _matrix_to_axis_angle(r: np.ndarray) -> np.ndarray:
    cos = np.clip((np.trace(r, axis1=1, axis2=2) - 1) / 2, -1, 1)
    theta = np.arccos(cos)
    v = np.stack([r[:, 2, 1] - r[:, 1, 2], r[:, 0, 2] - r[:, 2, 0], r[:, 1, 0] - r[:, 0, 1]], axis=1)
    s = np.sin(theta)
    small = s < 1e-6
    scale = np.where(small, 0.5, theta / (2 * np.where(small, 1.0, s)))
    return v * scale[:, None]
