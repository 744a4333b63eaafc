"""Strict reading of avatar files: every array the format needs must be there with the right shape and type, or
the user gets an `InputError` that names it (never a bare KeyError or a half-built avatar).

Format 2 (current): `gauss_*` arrays of `GaussianParams`, the head model's `head_*` arrays, `K`, `T_cam_from_head`,
`background`, and a JSON `header` {format, version, size, num_gaussians, config}; optionally a person's speech model
(`speech_*` arrays, `vasa3d.motion.personal`, and a `speech_model` summary in the header; files without it load
with none). Format 1 (earlier releases):
`face_*` (triangle-bound) and `rigid_*` groups with a `lash` flag, converted on load.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import fields
from pathlib import Path

import numpy as np

from vasa3d.avatar.types import Binding, BoundGaussians, Fade, GaussianParams, RigidGaussians
from vasa3d.errors import InputError
from vasa3d.head.rig import JAW_OPEN_MAX_RAD

NUM_FACE_VERTICES = 468
NUM_IRIS_POINTS = 10
HEAD_SHAPES = {"face_rest": (NUM_FACE_VERTICES, 3), "face_photo": (NUM_FACE_VERTICES, 3),
               "iris_rest": (NUM_IRIS_POINTS, 3), "triangles": (None, 3), "rig_names": (None,),
               "rig_deltas": (None, NUM_FACE_VERTICES, 3), "rig_jaw_weights": (NUM_FACE_VERTICES,),
               "rig_jaw_hinge": (3,), "shell_centre": (3,), "shell_radii": (3,), "eye_centres": (2, 3),
               "neck_pivot": (3,), "jaw_line_y": ()}
VOLUME_SHAPES = {"volume_centre": (3,), "volume_view_from_head": (3, 3), "volume_lateral": (None,),
                 "volume_front": (None,), "volume_back": (None,)}   # optional: avatars saved before it lack them
TORSO_SHAPES = {"torso_axis": (3,), "torso_right": (3,), "torso_radii": (2,), "torso_bottom_y": ()}   # ... and these
V1_LASH_EDGE_LINE = 3     # format 1's `lash` value for the inner-lip lines (1, 2: right/left lash lines)


def read_avatar_file(cls, path: str | Path):
    """An `Avatar` (`cls`) from `path`; InputError with what is wrong and what to do otherwise."""
    try:
        with np.load(path, allow_pickle=False) as d:
            data = {k: d[k] for k in d.files}
    except FileNotFoundError as exc:
        raise InputError(f"avatar file '{path}' does not exist; build one with `vasa3d build`") from exc
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"could not read avatar '{path}' ({type(exc).__name__}); it is damaged or not an avatar: "
                         "build it again with `vasa3d build`") from exc
    header = _header(path, data)
    try:
        head = _head(data)
        if header["version"] == 1:
            params = _params_v1(data)
        else:
            params = GaussianParams(**{f.name: _array(data, "gauss_" + f.name, None) for f in fields(GaussianParams)})
            if header.get("num_gaussians") not in (None, len(params)):
                raise ValueError(f"the header says {header['num_gaussians']} Gaussians, the arrays hold {len(params)}")
        params.validate()
        if params.parent.max(initial=-1) >= len(head.triangles):
            raise ValueError("a Gaussian is bound to a triangle the head model does not have")
        size = int(header["size"])
        K = _array(data, "K", (3, 3)).astype(np.float32)
        T = _array(data, "T_cam_from_head", (4, 4)).astype(np.float32)
        background = _array(data, "background", (size, size, 3)).astype(np.float32)
        speech = _speech_model(data)
    except (KeyError, ValueError, TypeError) as exc:
        raise InputError(f"avatar '{path}' is incomplete or damaged: {exc}; build it again with `vasa3d build`") from exc
    return cls(head=head, params=params, K=K, T_cam_from_head=T, background=background, size=size,
               config=dict(header.get("config") or {}), speech_model=speech)


def _header(path, data: dict) -> dict:
    if "header" not in data:
        raise InputError(f"'{path}' is not a vasa3d avatar (no header); build one with `vasa3d build`")
    try:
        header = json.loads(str(data["header"]))
    except ValueError as exc:
        raise InputError(f"'{path}' has a damaged avatar header; build it again with `vasa3d build`") from exc
    if not isinstance(header, dict) or header.get("format") != "vasa3d-avatar":
        raise InputError(f"'{path}' is not a vasa3d avatar; build one with `vasa3d build`")
    if header.get("version") not in (1, 2) or not isinstance(header.get("size"), int):
        raise InputError(f"'{path}' is a vasa3d avatar of format version {header.get('version')!r}, which this "
                         "release cannot read (it reads versions 1 and 2); build it again with `vasa3d build`")
    return header


def _array(data: dict, key: str, shape) -> np.ndarray:
    """data[key], checked against `shape` (None entries: any size); KeyError/ValueError naming it."""
    if key not in data:
        raise KeyError(f"array '{key}' is missing")
    a = data[key]
    if shape is not None and (a.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, a.shape))):
        raise ValueError(f"array '{key}' has shape {list(a.shape)}, expected {['*' if s is None else s for s in shape]}")
    if a.dtype.kind not in "fiu" and not (key.endswith("rig_names") and a.dtype.kind == "U"):
        raise ValueError(f"array '{key}' has type {a.dtype}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise ValueError(f"array '{key}' holds NaN or infinite values")
    return a


def _speech_model(data: dict):
    """The person's speech model of a fitted avatar (`speech_*` arrays), or None when the file has none."""
    if not any(k.startswith("speech_") for k in data):
        return None
    from vasa3d.motion.personal import PersonalSpeechModel

    return PersonalSpeechModel.from_npz_dict(data)


def _head(data: dict):
    from vasa3d.head.model import HeadModel

    arrays = {f"head_{k}": _array(data, f"head_{k}", shape) for k, shape in HEAD_SHAPES.items()}
    if "head_rig_jaw_open_rad" in data:                      # avatars saved before the per-face jaw angle lack it
        arrays["head_rig_jaw_open_rad"] = _array(data, "head_rig_jaw_open_rad", ())
    else:
        arrays["head_rig_jaw_open_rad"] = np.float32(JAW_OPEN_MAX_RAD)
    if "head_volume_lateral" in data:
        arrays.update({f"head_{k}": _array(data, f"head_{k}", shape) for k, shape in VOLUME_SHAPES.items()})
        lengths = {len(arrays[f"head_volume_{k}"]) for k in ("lateral", "front", "back")}
        if len(lengths) != 1:
            raise ValueError("the head volume's profiles differ in length")
    if "head_torso_radii" in data:
        arrays.update({f"head_{k}": _array(data, f"head_{k}", shape) for k, shape in TORSO_SHAPES.items()})
    if len(arrays["head_rig_names"]) != len(arrays["head_rig_deltas"]):
        raise ValueError("the rig has a different number of names and blendshapes")
    return HeadModel.from_npz_dict(arrays)


def _params_v1(data: dict) -> GaussianParams:
    """Format 1's groups converted: `lash` 1/2 -> FACE_RIGID + fade, 3 -> FACE_EDGE, a local position -> FACE_RIGID."""
    n = len(_array(data, "face_parent", (None,)))
    optional = {"lash": np.zeros(n, np.int8), "local_pos": np.zeros((n, 3), np.float32)}
    face = {f.name: (_array(data, f"face_{f.name}", None) if f"face_{f.name}" in data or f.name not in optional
                     else optional[f.name]) for f in fields(BoundGaussians) if f.name not in ("binding", "fade")}
    face["lash"] = data.get("face_lash", optional["lash"])
    lash = face.pop("lash").astype(np.int8)
    binding = np.where(lash == V1_LASH_EDGE_LINE, int(Binding.FACE_EDGE),
                       np.where((lash != 0) | face["local_pos"].any(axis=1), int(Binding.FACE_RIGID), int(Binding.FACE)))
    fade = np.where((lash == 1) | (lash == 2), lash, int(Fade.NONE))
    bound = BoundGaussians(**face, binding=binding.astype(np.int8), fade=fade.astype(np.int8))
    rigid = RigidGaussians(**{f.name: _array(data, f"rigid_{f.name}", None) for f in fields(RigidGaussians)})
    v1_parts = np.array([-1, Binding.SKULL, Binding.JAW, Binding.EYE_R, Binding.EYE_L, Binding.BODY], np.int8)
    if not ((rigid.part >= 1) & (rigid.part <= 5)).all():
        raise ValueError("array 'rigid_part' holds unknown parts")
    rigid.part = v1_parts[rigid.part.astype(np.int64)]
    return GaussianParams.from_parts(bound, rigid)
