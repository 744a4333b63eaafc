"""Complete what the photo cannot show: the back and sides of the skull, the neck all round, and the mouth interior
(dark cavity, upper teeth on the skull, lower teeth and tongue on the jaw), so a turned head or an open mouth never
shows the background through the person. Head frame, metres.
"""

from __future__ import annotations

import numpy as np

from vasa3d.avatar.lift import Camera, disc_quats
from vasa3d.avatar.types import PART_BODY, PART_JAW, PART_SKULL, RigidGaussians
from vasa3d.config import AvatarConfig
from vasa3d.head import topology as topo
from vasa3d.head.model import HeadModel
from vasa3d.head.rig import rotate_about_hinge

NECK_RADII_M = (0.055, 0.055)   # half-width and half-depth of the neck cylinder
NECK_CENTRE_Z_M = -0.02
UPPER_TOOTH_EDGES_M = (0.0, 0.0085, 0.015, 0.021, 0.027)   # incisors, lateral incisors, canines, premolars
LOWER_TOOTH_EDGES_M = (0.0, 0.0055, 0.011, 0.017, 0.023)
MOUTH_CLEARANCE_M = 0.005       # the mouth interior stays at least this far behind the neutral face's surface


def hidden_neck(head: HeadModel, cam: Camera, tri_id: np.ndarray, color: np.ndarray) -> RigidGaussians:
    """Complete the neck where the photo cannot show it (its sides and back, and behind the chin), so a turned head
    shows neck under the jaw, not the background. Points on the neck cylinder, skinned like the photo's neck."""
    step = 0.004
    angles = np.arange(0.0, 2 * np.pi, step / NECK_RADII_M[0])
    heights = np.arange(head.jaw_line_y - 0.10, head.jaw_line_y + 0.04, step)
    a, y = np.meshgrid(angles, heights)
    a, y = a.ravel(), y.ravel()
    normals = np.stack([np.sin(a), np.zeros_like(a), np.cos(a)], axis=1)
    pts = np.stack([head.shell_centre[0] + NECK_RADII_M[0] * np.sin(a), y,
                    NECK_CENTRE_Z_M + NECK_RADII_M[1] * np.cos(a)], axis=1)
    view = cam.centre - pts
    facing = np.einsum("ij,ij->i", normals, view / np.linalg.norm(view, axis=1, keepdims=True))
    p = (pts @ cam.R.T + cam.t) @ cam.K.T
    px = np.clip((p[:, :2] / p[:, 2:]).astype(int), 0, tri_id.shape[0] - 1)
    keep = (facing < 0.15) | (tri_id[px[:, 1], px[:, 0]] >= 0)
    pts, normals = pts[keep], normals[keep]
    n = len(pts)
    return RigidGaussians(means=pts.astype(np.float32), quats=disc_quats(normals),
                          scales=np.tile(np.float32([step, step, step * 0.25]), (n, 1)),
                          colors=np.tile(color.astype(np.float32), (n, 1)), opacities=np.ones(n, np.float32),
                          part=np.full(n, PART_BODY, np.int8), skin=head.skin_weights(pts))


def back_of_head(head: HeadModel, cam: Camera, body: RigidGaussians, skin: np.ndarray,
                  config: AvatarConfig) -> RigidGaussians:
    """Complete the unseen back and sides of the skull (points of the shell ellipsoid the photo camera cannot see): hair
    coloured like the photo's crown (`hair_colours`), except the sides of the face below the eyes and in front of the
    ears (cheeks and jaw seen from the side), which take the skin's (`skin` [3])."""
    n = config.back_of_head_points
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5 ** 0.5) * i
    unit = np.stack([np.sin(phi) * np.cos(theta), np.cos(phi), np.sin(phi) * np.sin(theta)], axis=1)
    pts = head.shell_centre + unit * head.shell_radii
    normals = unit / head.shell_radii
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    view = cam.centre - pts
    facing = np.einsum("ij,ij->i", normals, view / np.linalg.norm(view, axis=1, keepdims=True))
    keep = (facing < -0.05) & (pts[:, 1] > head.jaw_line_y + 0.02)   # hidden from the photo camera only
    pts, normals = pts[keep], normals[keep]
    hair = hair_colours(head, body, len(pts))
    spacing = np.sqrt(4 * np.pi * head.shell_radii.mean() ** 2 / n)
    scales = np.tile(np.array([spacing, spacing, spacing * config.normal_thickness]), (len(pts), 1))
    eye_y = float(head.eye_centres[:, 1].mean())
    cheek = (pts[:, 1] < eye_y - 0.01) & (pts[:, 2] > head.shell_centre[2])
    colors = np.where(cheek[:, None], skin[None, :], hair)
    return RigidGaussians(means=pts.astype(np.float32), quats=disc_quats(normals), scales=scales.astype(np.float32),
                          colors=colors.astype(np.float32),
                          opacities=np.ones(len(pts), np.float32), part=np.full(len(pts), PART_SKULL, np.int8),
                          skin=np.ones(len(pts), np.float32))


def hair_colours(head: HeadModel, body: RigidGaussians, n: int, seed: int = 0) -> np.ndarray:
    """float32 [n, 3] colours for unseen hair: draws from the photo's crown (opaque skull Gaussians above the top of
    the face mesh), each mixed 30:70 with their median, so the texture is hair-like but not blotchy.
    Falls back to all skull Gaussians, then to dark brown."""
    skull = (body.part == PART_SKULL) & (body.opacities > 0.8)
    crown = skull & (body.means[:, 1] > head.face_photo[topo.FOREHEAD, 1])
    pool = body.colors[crown] if crown.sum() >= 20 else body.colors[skull]
    if len(pool) == 0:
        return np.tile(np.float32([0.2, 0.15, 0.1]), (n, 1))
    draws = pool[np.random.default_rng(seed).integers(0, len(pool), n)]
    return (0.3 * draws + 0.7 * np.median(pool, axis=0)[None]).astype(np.float32)


def _grid(x0, x1, y0, y1, step):
    """Flattened (x [N], y [N]) of a regular grid over [x0, x1] x [y0, y1] with `step` (metres)."""
    xs = np.arange(x0, x1 + 1e-9, step)
    ys = np.arange(y0, y1 + 1e-9, step)
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


def _mouth_shade(x: np.ndarray, cx: float, half_w: float) -> np.ndarray:
    """Ambient shading [N] of the mouth interior: 1 at the middle, darker towards the corners (cheeks shadow the
    side teeth), so the teeth read as a curved row rather than a flat white band."""
    return np.clip(1.0 - 0.55 * ((x - cx) / max(half_w, 1e-3)) ** 2, 0.35, 1.0)


def _tooth_gaps(dx: np.ndarray, edges) -> np.ndarray:
    """Shade [N] darkening thin bands at the tooth edges `edges` (metres from the mouth's middle, mirrored), so the
    rows read as separate teeth."""
    out = np.ones_like(dx)
    for e in edges:
        for side in ((1.0, -1.0) if e > 0 else (1.0,)):
            out -= 0.35 * np.exp(-(((dx - side * e) / 0.0006) ** 2))
    return np.clip(out, 0.4, 1.0)


def mouth_interior(head: HeadModel) -> RigidGaussians:
    """Dark cavity (skull), upper teeth (skull), lower teeth and tongue (jaw), behind the lips; everything at least
    `MOUTH_CLEARANCE_M` behind the neutral face's surface, so lips and cheeks moved sideways (mouthLeft, a smile)
    never uncover the interior at the mouth corners."""
    from scipy.interpolate import LinearNDInterpolator

    f = head.face_rest
    face_depth = LinearNDInterpolator(f[:, :2].astype(np.float64), f[:, 2].astype(np.float64))
    cx = 0.5 * (f[78, 0] + f[308, 0])
    half_w = 0.5 * (f[308, 0] - f[78, 0])
    y_top, y_bot = f[13, 1], f[14, 1]
    z_lip = float(f[list(topo.LIP_UPPER_INNER + topo.LIP_LOWER_INNER), 2].mean())
    step = 0.0012
    groups = []

    def add(x, y, z, color, part, size=1.0, gaps=()):
        n = len(x)
        shade = _mouth_shade(x, cx, half_w) * _tooth_gaps(x - cx, gaps)
        limit = face_depth(np.stack([x, y], axis=1)) - MOUTH_CLEARANCE_M
        z = np.where(np.isfinite(limit), np.minimum(z, limit), z)
        groups.append(RigidGaussians(
            means=np.stack([x, y, z], 1).astype(np.float32), quats=np.tile(np.float32([1, 0, 0, 0]), (n, 1)),
            scales=np.tile(np.float32([step * size, step * size, step * 0.3]), (n, 1)),
            colors=(np.float32(color)[None, :] * shade[:, None]).astype(np.float32),
            opacities=np.ones(n, np.float32),
            part=np.full(n, part, np.int8), skin=np.ones(n, np.float32)))

    bulge = lambda x, depth: z_lip - depth - 0.25 * (x - cx) ** 2 / max(half_w, 1e-3)  # noqa: E731
    opened = rotate_about_hinge(f[[14]], np.ones(1, np.float32), head.rig.jaw_hinge, head.rig.jaw_open_rad)
    y_low = float(opened[0, 1]) - 0.003          # lowest lower-lip height at jawOpen = 1
    x, y = _grid(cx - 0.95 * half_w, cx + 0.95 * half_w, y_low, y_top + 0.004, step)
    add(x, y, bulge(x, 0.016), (0.09, 0.025, 0.03), PART_SKULL, size=1.3)
    x, y = _grid(cx - 0.95 * half_w, cx + 0.95 * half_w, y_low, y_top + 0.004, 2 * step)
    add(x, y, bulge(x, 0.026), (0.05, 0.012, 0.015), PART_SKULL, size=2.6)      # back wall: never see-through
    x, y = _grid(cx - 0.75 * half_w, cx + 0.75 * half_w, y_top - 0.009, y_top + 0.002, step)
    add(x, y, bulge(x, 0.0045), (0.80, 0.77, 0.70), PART_SKULL, gaps=UPPER_TOOTH_EDGES_M)
    x, y = _grid(cx - 0.65 * half_w, cx + 0.65 * half_w, y_bot - 0.006, y_bot + 0.003, step)
    add(x, y, bulge(x, 0.0065), (0.70, 0.67, 0.60), PART_JAW, gaps=LOWER_TOOTH_EDGES_M)
    x, y = _grid(cx - 0.6 * half_w, cx + 0.6 * half_w, y_bot - 0.022, y_bot - 0.004, step)
    add(x, y, bulge(x, 0.012), (0.50, 0.20, 0.20), PART_JAW)
    return RigidGaussians.concatenate(groups)
