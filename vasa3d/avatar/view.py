"""Render an avatar: one posed frame from an orbit of the photo's camera, a contact sheet of expressions."""

from __future__ import annotations

import numpy as np

from vasa3d.avatar.pose import FramePose


SHEET_COMPANIONS = {"mouthClose": ("jawOpen",)}
"""Shapes shown together with another on the contact sheet (mouthClose acts only against an open jaw)."""


def neutral_pose(names: tuple[str, ...] = (), coeffs=()) -> FramePose:
    """A `FramePose` with the given coefficients, the head still and the eyes straight ahead."""
    return FramePose(names=tuple(names), coeffs=np.asarray(coeffs, np.float32).reshape(len(names)),
                     head_rotation=np.zeros(3, np.float32), head_translation=np.zeros(3, np.float32),
                     gaze=np.zeros(2, np.float32))


def render_frame(avatar, pose: FramePose, yaw: float = 0.0, pitch: float = 0.0, size: int | None = None,
                 backend: str = "auto", background: tuple[float, float, float] | None = None,
                 plate: np.ndarray | None = None) -> np.ndarray:
    """One frame of `avatar` in `pose`, seen from the photo's camera orbited by (`yaw`, `pitch`) radians.

    Args:
        size: output side in pixels (default: the avatar's crop size). backend: rasterizer backend.
        background: an RGB colour in [0, 1] behind the avatar, instead of the photo's background plate.
        plate: float32 [size, size, 3], the background plate already resized (saves the resize per frame).
    Returns:
        uint8 [size, size, 3] RGB.
    """
    import cv2
    import torch

    from vasa3d.render import rasterize
    from vasa3d.render.cameras import orbit_viewmat, scale_intrinsics

    size = size or avatar.size
    g = avatar.pose(pose)
    viewmat = torch.from_numpy(orbit_viewmat(avatar.T_cam_from_head, yaw, pitch))[None]
    K = torch.from_numpy(scale_intrinsics(avatar.K, avatar.size, size))[None]
    with torch.no_grad():
        out = rasterize(*(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
                          for a in (g.means, g.quats, g.scales, g.opacities, g.colors)),
                        viewmat, K, size, size, backend=backend)
    if background is not None:
        behind = np.asarray(background, np.float32).reshape(1, 1, 3)
    elif plate is not None:
        behind = plate
    else:
        behind = cv2.resize(avatar.background, (size, size), interpolation=cv2.INTER_AREA)
    rgb = out.rgb[0].numpy() + (1.0 - out.alpha[0].numpy()) * behind
    return (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def expression_sheet(avatar, names: tuple[str, ...] | None = None, yaws_deg=(-30.0, 0.0, 30.0), tile: int = 160,
                     backend: str = "auto") -> np.ndarray:
    """Contact sheet: one labelled row per blendshape (at 1.0, with its `SHEET_COMPANIONS`; "neutral" first), one
    column per camera yaw.

    Args:
        names: blendshapes to show (default: every name the rig supports). tile: side of one render, pixels.
    Returns:
        uint8 [rows * (tile + label), len(yaws_deg) * tile, 3] RGB. Raises ValueError for an unknown name.
    """
    from PIL import Image, ImageDraw

    names = tuple(avatar.head.rig.supported if names is None else names)
    label_h = 16
    zoom = 2                                         # render at twice the tile size, keep the face window
    T, K = avatar.T_cam_from_head, avatar.K
    nose = K @ (T[:3, :3] @ avatar.head.face_rest[1] + T[:3, 3])
    cx, cy = (nose[:2] / nose[2]) * (zoom * tile / avatar.size)
    x0 = int(np.clip(cx - tile / 2, 0, zoom * tile - tile))
    y0 = int(np.clip(cy - tile / 2, 0, zoom * tile - tile))
    rows = []
    for name in ("neutral",) + names:
        extra = SHEET_COMPANIONS.get(name, ())
        pose = neutral_pose() if name == "neutral" else neutral_pose((name,) + extra, (1.0,) * (1 + len(extra)))
        tiles = [render_frame(avatar, pose, np.radians(y), 0.0, zoom * tile, backend)[y0:y0 + tile, x0:x0 + tile]
                 for y in yaws_deg]
        label = Image.new("RGB", (tile * len(tiles), label_h), (255, 255, 255))
        text = "neutral" if name == "neutral" else " + ".join(f"{n} = 1" for n in (name,) + extra)
        ImageDraw.Draw(label).text((4, 2), text, fill=(0, 0, 0))
        rows.append(np.concatenate([np.asarray(label), np.concatenate(tiles, axis=1)], axis=0))
    return _grid(rows, columns=4)


def _grid(rows: list[np.ndarray], columns: int) -> np.ndarray:
    """Lay equally sized row images out `columns` abreast (white padding at the end)."""
    h, w = rows[0].shape[:2]
    n_lines = -(-len(rows) // columns)
    out = np.full((n_lines * h, columns * w, 3), 255, np.uint8)
    for i, r in enumerate(rows):
        y, x = divmod(i, columns)
        out[y * h:(y + 1) * h, x * w:(x + 1) * w] = r
    return out
