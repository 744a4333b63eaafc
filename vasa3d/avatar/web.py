"""The avatar and a motion as one binary file that the browser viewer (`assets/viewer/`) poses itself.

What is sent: the avatar's Gaussians with their bindings once (`GaussianParams`: a few MB for 60k Gaussians), the
face triangles with the photo mesh's edge inverses and mean edge lengths, the rigid parts' centres and the camera;
then per frame only what drives the posing: the deformed face mesh (V x 3 floats, from `kinematics.deform_batch`,
the exact rig, jaw hinge and mouthClose limit included), the rigid motions of the head, jaw and eyeballs
(`kinematics.part_motions`: R [4, 3, 3], target [4, 3]), the head's axis-angle rotation and translation (for the
neck's slerp skinning) and the two lash-line fades. The viewer then places every Gaussian on its posed triangle
(GaussianAvatars frames with the in-plane stretch) or rigid part exactly as `vasa3d.avatar.pose` does, so no
per-frame Gaussian dumps travel: ~6 kB per frame for a 468-vertex face instead of ~1.4 MB for 60k posed Gaussians.

File layout (little-endian): the 8 bytes `MAGIC`, a uint32 header length, a UTF-8 JSON header padded with spaces to
a multiple of 4 bytes, then the arrays back to back, each at a multiple of 4 bytes from the start of the data.
The header: {"version", "num_gaussians", "num_frames", "fps", "size", "max_opacity", "stretch_clip",
"isotropic_dev", "K", "T_cam_from_head",
"arrays": {name: {"offset", "dtype", "shape"}}} with dtypes "f4", "i4", "i1" (see `write_viewer_file`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

MAGIC = b"VASA3DV1"
VERSION = 1
ALIGN = 4


def viewer_arrays(avatar, motion) -> dict[str, np.ndarray]:
    """Every array the viewer needs, by name (see the module docstring).

    Args:
        avatar: an `Avatar`. motion: a `MotionSequence` with T frames whose names the avatar's rig supports.
    Returns:
        Gaussians (avatar order, N): binding i1 [N], parent i4 [N], bary/local_pos/local_scale/colors f4 [N, 3],
        local_quat f4 [N, 4] wxyz, opacities/skin f4 [N], fade i1 [N];
        head: triangles i4 [F, 3], photo_edges_inv f4 [F, 2, 2], k_ref f4 [F] m, part_centres f4 [4, 3] m
        (head pivot, jaw hinge, right eye, left eye), neck_pivot f4 [3];
        per frame: verts f4 [T, V, 3] m (head frame, before the head turns), part_R f4 [T, 4, 3, 3],
        part_target f4 [T, 4, 3] m (a point p of part i moves to R_i (p - centre_i) + target_i),
        head_rotvec f4 [T, 3] rad, head_translation f4 [T, 3] m, fades f4 [T, 2] (right, left lash lines' opacity
        factors), opacity clamp `MAX_OPACITY` applied by the viewer.
    Raises ValueError for a coefficient name the rig does not support.
    """
    import torch

    from vasa3d.avatar.pose_ref import LASH_FADE
    from vasa3d.head import kinematics as kin

    head = kin.HeadTensors.from_head(avatar.head, "cpu", torch.float32)
    g = avatar.params
    with torch.no_grad():
        coeffs = torch.as_tensor(np.asarray(motion.coeffs, np.float32))
        full = torch.stack([kin.coefficient_vector(head, tuple(motion.names), c) for c in coeffs]) if len(coeffs) \
            else torch.zeros((0, len(head.names)))
        verts = kin.deform_batch(head, full) if len(full) else torch.zeros((0,) + tuple(head.face_rest.shape))
        rotvecs = torch.as_tensor(np.asarray(motion.head_rotation, np.float32))
        translations = torch.as_tensor(np.asarray(motion.head_translation, np.float32))
        gazes = torch.as_tensor(np.asarray(motion.gaze, np.float32))
        motions = [kin.part_motions(head, full[t], rotvecs[t], translations[t], gazes[t]) for t in range(len(full))]
        part_R = torch.stack([m.R for m in motions]) if motions else torch.zeros((0, 4, 3, 3))
        part_target = torch.stack([m.target for m in motions]) if motions else torch.zeros((0, 4, 3))

    def fade(name: str) -> np.ndarray:
        c = full[:, head.names.index(name)].numpy() if name in head.names else np.zeros(len(full), np.float32)
        return np.clip((c - LASH_FADE[0]) / (LASH_FADE[1] - LASH_FADE[0]), 0.0, 1.0)

    f32 = lambda a: np.ascontiguousarray(np.asarray(a), dtype=np.float32)  # noqa: E731
    return {
        "binding": g.binding.astype(np.int8), "parent": g.parent.astype(np.int32), "bary": f32(g.bary),
        "local_pos": f32(g.local_pos), "local_quat": f32(g.local_quat), "local_scale": f32(g.local_scale),
        "colors": f32(g.colors), "opacities": f32(g.opacities), "skin": f32(g.skin), "fade": g.fade.astype(np.int8),
        "triangles": np.asarray(avatar.head.triangles, np.int32), "photo_edges_inv": f32(head.photo_edges_inv),
        "k_ref": f32(head.k_ref), "part_centres": f32(head.part_centres), "neck_pivot": f32(head.neck_pivot),
        "verts": f32(verts), "part_R": f32(part_R), "part_target": f32(part_target), "head_rotvec": f32(rotvecs),
        "head_translation": f32(translations),
        "fades": f32(np.stack([fade("eyeBlinkRight"), fade("eyeBlinkLeft")], axis=1).reshape(-1, 2)),
    }


def write_viewer_file(path: str | Path, avatar, motion) -> Path:
    """Write the viewer file of `avatar` driven by `motion` (layout in the module docstring), atomically.

    Returns the path. Raises ValueError for a coefficient name the rig does not support.
    """
    from vasa3d.avatar.pose_ref import MAX_OPACITY
    from vasa3d.head.kinematics import ISOTROPIC_DEV, STRETCH_CLIP
    from vasa3d.io.atomic import atomic_path

    arrays = viewer_arrays(avatar, motion)
    table, chunks, offset = {}, [], 0
    for name, a in arrays.items():
        data = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        table[name] = {"offset": offset, "dtype": a.dtype.str[1:], "shape": list(a.shape)}
        pad = -len(data) % ALIGN
        chunks.append(data + b"\0" * pad)
        offset += len(data) + pad
    header = {"version": VERSION, "num_gaussians": avatar.num_gaussians, "num_frames": int(motion.num_frames),
              "fps": float(motion.fps), "size": int(avatar.size), "max_opacity": MAX_OPACITY,
              "stretch_clip": list(STRETCH_CLIP), "isotropic_dev": ISOTROPIC_DEV,
              "K": np.asarray(avatar.K, np.float64).tolist(),
              "T_cam_from_head": np.asarray(avatar.T_cam_from_head, np.float64).tolist(), "arrays": table}
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % ALIGN)
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(MAGIC + np.uint32(len(text)).astype("<u4").tobytes() + text)
            for chunk in chunks:
                fh.write(chunk)
    return path


def read_viewer_file(path: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """(header, arrays) of a file written by `write_viewer_file` (for tests and tools). Raises ValueError for a
    file that is not a viewer file."""
    raw = Path(path).read_bytes()
    if raw[:len(MAGIC)] != MAGIC:
        raise ValueError(f"{Path(path).name} is not a vasa3d viewer file")
    n = int(np.frombuffer(raw, "<u4", 1, len(MAGIC))[0])
    start = len(MAGIC) + 4
    header = json.loads(raw[start:start + n].decode("utf-8"))
    base = start + n
    arrays = {}
    for name, spec in header["arrays"].items():
        dtype = np.dtype("<" + spec["dtype"])
        count = int(np.prod(spec["shape"], dtype=np.int64))
        arrays[name] = np.frombuffer(raw, dtype, count, base + spec["offset"]).reshape(spec["shape"])
    return header, arrays
