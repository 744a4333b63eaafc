"""Build pixel-aligned Gaussians from one portrait and bind them to the head model.

One Gaussian per face pixel (per `body_stride`^2 block elsewhere) is lifted onto the head by casting the pixel's
camera ray: face pixels onto the face-mesh triangle under them (bound by triangle index + barycentric coordinates,
GaussianAvatars-style, so they follow every expression), eye openings onto the eyeballs, hair and ears onto the
skull ellipsoid, neck and torso onto a plane at the head centre's depth (skinned: the torso stays still). Unseen
parts are completed: the back of the head in the hair's colour, and a synthetic mouth interior (dark cavity, upper
teeth on the skull, lower teeth and tongue on the jaw) so an open mouth never shows a hole.
Method after VASA-3D's pixel-aligned Gaussian initialisation and GaussianHeadTalk's mesh-bound Gaussians.
"""

from __future__ import annotations

import numpy as np

from vasa3d.avatar.quat import quat_from_matrix, triangle_frames
from vasa3d.avatar.types import PART_BODY, PART_EYE_L, PART_EYE_R, PART_JAW, PART_SKULL, BoundGaussians, RigidGaussians
from vasa3d.config import AvatarConfig
from vasa3d.face.analysis import FaceObservation
from vasa3d.head import topology as topo
from vasa3d.head.model import EYEBALL_RADIUS_M, HeadModel
from vasa3d.head.rig import JAW_OPEN_MAX_RAD, rotate_about_hinge

PIXEL_SIGMA = 0.6         # in-plane standard deviation of a pixel's Gaussian, in pixels (before the slant factor)
MAX_SLANT = 3.0           # cap on the 1/cos(view angle) stretch of grazing Gaussians
MIN_OPACITY = 0.05
NECK_RADII_M = (0.055, 0.055)   # half-width and half-depth of the neck cylinder
NECK_CENTRE_Z_M = -0.02


class _Camera:
    """The photo's camera in the head frame: pixel rays and depths."""

    def __init__(self, obs: FaceObservation):
        T = obs.T_cam_from_head.astype(np.float64)
        self.R, self.t = T[:3, :3], T[:3, 3]
        self.K = obs.K.astype(np.float64)
        self.centre = -self.R.T @ self.t                     # camera centre in the head frame
        self.focal = float(self.K[0, 0])

    def rays(self, px: np.ndarray) -> np.ndarray:
        """Unit ray directions [N, 3] in the head frame through pixel coordinates [N, 2] (x, y)."""
        d = np.stack([(px[:, 0] - self.K[0, 2]) / self.focal, (px[:, 1] - self.K[1, 2]) / self.focal,
                      np.ones(len(px))], axis=1) @ self.R
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    def to_head(self, p_cam: np.ndarray) -> np.ndarray:
        return (p_cam - self.t) @ self.R

    def metres_per_px(self, points: np.ndarray) -> np.ndarray:
        return ((points @ self.R.T + self.t)[:, 2] / self.focal).astype(np.float32)


def build_gaussians(obs: FaceObservation, head: HeadModel, config: AvatarConfig = AvatarConfig()
                    ) -> tuple[BoundGaussians, RigidGaussians]:
    """Lift the photo's pixels into Gaussians bound to `head`.

    Args:
        obs: the face observation of the photo (crop, mask, landmarks, camera).
        head: the head model fitted to `obs.landmarks_head`.
        config: strides, back-of-head budget, disc thickness.
    Returns:
        (face Gaussians bound to triangles, rigid Gaussians of skull/jaw/eyes/body), all in the head frame at rest.
    """
    cam = _Camera(obs)
    tri_id, bary = _rasterize_face(obs, head)
    holes = _hole_masks(obs)
    face = _face_gaussians(obs, head, cam, tri_id, bary, config)
    rigid = [_eye_gaussians(obs, head, cam, holes, tri_id),
             _mouth_hole_gaussians(obs, head, cam, holes, tri_id),
             _body_gaussians(obs, head, cam, tri_id, holes, config)]
    skin = np.median(face.colors, axis=0)
    rigid.append(_back_of_head(head, cam, rigid[-1], skin, config))
    rigid.append(_hidden_neck(head, cam, tri_id, 0.85 * skin))
    rigid.append(_mouth_interior(head))
    return face, RigidGaussians.concatenate(rigid)


def _rasterize_face(obs: FaceObservation, head: HeadModel) -> tuple[np.ndarray, np.ndarray]:
    """Triangle index [S, S] (-1 = none) and barycentrics [S, S, 3] of the nearest face triangle per pixel."""
    S = obs.size
    tri_id = np.full((S, S), -1, dtype=np.int32)
    bary = np.zeros((S, S, 3), dtype=np.float32)
    zbuf = np.full((S, S), np.inf, dtype=np.float32)
    uv, z = obs.landmarks_px[:468].astype(np.float64), obs.landmarks_cam[:468, 2]
    for f, (a, b, c) in enumerate(head.triangles):
        x0, y0 = np.floor(np.minimum(np.minimum(uv[a], uv[b]), uv[c])).astype(int)
        x1, y1 = np.ceil(np.maximum(np.maximum(uv[a], uv[b]), uv[c])).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, S - 1), min(y1, S - 1)
        if x1 < x0 or y1 < y0:
            continue
        ys, xs = np.mgrid[y0:y1 + 1, x0:x1 + 1]
        p = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)
        w = _barycentric(p, uv[a], uv[b], uv[c])
        inside = (w >= -1e-6).all(axis=1)
        if not inside.any():
            continue
        xi, yi, wi = xs.ravel()[inside], ys.ravel()[inside], w[inside]
        depth = wi @ np.array([z[a], z[b], z[c]])
        closer = depth < zbuf[yi, xi]
        xi, yi = xi[closer], yi[closer]
        zbuf[yi, xi] = depth[closer]
        tri_id[yi, xi] = f
        bary[yi, xi] = wi[closer]
    return tri_id, bary


def _barycentric(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    v0, v1, v2 = b - a, c - a, p - a
    den = v0[0] * v1[1] - v1[0] * v0[1]
    if abs(den) < 1e-12:
        return np.full((len(p), 3), -1.0)
    w1 = (v2[:, 0] * v1[1] - v1[0] * v2[:, 1]) / den
    w2 = (v0[0] * v2[:, 1] - v2[:, 0] * v0[1]) / den
    return np.stack([1 - w1 - w2, w1, w2], axis=1)


def _hole_masks(obs: FaceObservation) -> dict[str, np.ndarray]:
    """bool [S, S] masks of the two eye openings and the mouth opening (inside the lid / inner-lip contours)."""
    import cv2

    def poly(upper, lower):
        pts = np.concatenate([obs.landmarks_px[list(upper)], obs.landmarks_px[list(lower[::-1])]])
        m = np.zeros((obs.size, obs.size), np.uint8)
        cv2.fillPoly(m, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
        return m.astype(bool)

    return {"eye_r": poly(topo.EYE_RIGHT_UPPER, topo.EYE_RIGHT_LOWER),
            "eye_l": poly(topo.EYE_LEFT_UPPER, topo.EYE_LEFT_LOWER),
            "mouth": poly(topo.LIP_UPPER_INNER, topo.LIP_LOWER_INNER)}


def _slant_scales(normals: np.ndarray, rays: np.ndarray, sigma_m: np.ndarray, thickness: float) -> np.ndarray:
    """In-plane scales stretched by 1/|cos| of the view angle (capped), normal scale = thickness * in-plane."""
    cos = np.abs(np.einsum("ij,ij->i", normals, rays))
    s = sigma_m * np.minimum(1.0 / np.maximum(cos, 1e-3), MAX_SLANT)
    return np.stack([s, s, thickness * s], axis=1).astype(np.float32)


def _face_gaussians(obs, head, cam, tri_id, bary, config) -> BoundGaussians:
    st = config.face_stride
    yy, xx = np.nonzero(tri_id[::st, ::st] >= 0)
    yy, xx = yy * st, xx * st
    tri, w = tri_id[yy, xx], bary[yy, xx]
    R, k = triangle_frames(head.face_photo, head.triangles)
    v = head.face_photo[head.triangles[tri]]                    # [N, 3, 3]
    means = np.einsum("nk,nkd->nd", w, v)
    rays = cam.rays(np.stack([xx + 0.5, yy + 0.5], axis=1))
    scales = _slant_scales(R[tri][:, :, 2], rays, PIXEL_SIGMA * st * cam.metres_per_px(means), config.normal_thickness)
    colors = _block_mean(obs.image, yy, xx, st)
    opac = np.clip(np.maximum(obs.mask[yy, xx], 0.98), 0, 1).astype(np.float32)
    return BoundGaussians(parent=tri.astype(np.int32), bary=w.astype(np.float32),
                          offset=np.zeros(len(tri), np.float32),
                          local_quat=np.tile(np.array([1, 0, 0, 0], np.float32), (len(tri), 1)),
                          local_scale=(scales / k[tri][:, None]).astype(np.float32), colors=colors, opacities=opac)


def _block_mean(image: np.ndarray, yy: np.ndarray, xx: np.ndarray, st: int) -> np.ndarray:
    if st == 1:
        return image[yy, xx].astype(np.float32)
    S = image.shape[0]
    acc = np.zeros((len(yy), 3), np.float32)
    for dy in range(st):
        for dx in range(st):
            acc += image[np.minimum(yy + dy, S - 1), np.minimum(xx + dx, S - 1)]
    return acc / (st * st)


def _disc_quats(normals: np.ndarray) -> np.ndarray:
    """wxyz quaternions [N, 4] of frames whose third axis is `normals` [N, 3] (unit)."""
    helper = np.where(np.abs(normals[:, :1]) < 0.9, np.array([[1.0, 0, 0]]), np.array([[0, 1.0, 0]]))
    e1 = np.cross(helper, normals)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(normals, e1)
    return quat_from_matrix(np.stack([e1, e2, normals], axis=2))


def _rigid_from_pixels(obs, cam, yy, xx, points, normals, part, head, st, thickness, opacity=None):
    rays = cam.rays(np.stack([xx + 0.5, yy + 0.5], axis=1))
    scales = _slant_scales(normals, rays, PIXEL_SIGMA * st * cam.metres_per_px(points), thickness)
    colors = _block_mean(obs.image, yy, xx, st)
    opac = np.ones(len(yy), np.float32) if opacity is None else opacity
    weights = np.ones(len(yy), np.float32) if part is not PART_BODY else head.skin_weights(points)
    parts = np.full(len(yy), part, np.int8) if np.isscalar(part) else part
    return RigidGaussians(means=points.astype(np.float32), quats=_disc_quats(normals), scales=scales,
                          colors=colors, opacities=opac.astype(np.float32), part=parts, skin=weights)


def _ray_sphere(origin: np.ndarray, dirs: np.ndarray, centre: np.ndarray, radii: np.ndarray):
    """First hit of rays with the ellipsoid (centre, radii); returns (t [N], hit bool [N])."""
    o = (origin - centre) / radii
    d = dirs / radii
    a = (d * d).sum(1)
    b = 2 * (d @ o)
    c = o @ o - 1.0
    disc = b * b - 4 * a * c
    t = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a)
    return t, disc > 0


def _eye_gaussians(obs, head, cam, holes, tri_id) -> RigidGaussians:
    out = []
    for key, part, centre in (("eye_r", PART_EYE_R, head.eye_centres[0]), ("eye_l", PART_EYE_L, head.eye_centres[1])):
        yy, xx = np.nonzero(holes[key] & (tri_id < 0))
        dirs = cam.rays(np.stack([xx + 0.5, yy + 0.5], axis=1))
        r = np.full(3, EYEBALL_RADIUS_M)
        t, hit = _ray_sphere(cam.centre, dirs, centre, r)
        t = np.where(hit, t, (centre - cam.centre) @ dirs.T)
        pts = cam.centre + t[:, None] * dirs
        normals = (pts - centre) / np.linalg.norm(pts - centre, axis=1, keepdims=True)
        out.append(_rigid_from_pixels(obs, cam, yy, xx, pts, normals, part, head, 1, 0.3))
    return RigidGaussians.concatenate(out)


def _mouth_hole_gaussians(obs, head, cam, holes, tri_id) -> RigidGaussians:
    """Pixels inside the inner lips of the photo (teeth of a smile): on a plane just behind the lips."""
    yy, xx = np.nonzero(holes["mouth"] & (tri_id < 0))
    lips = head.face_photo[list(topo.LIP_UPPER_INNER + topo.LIP_LOWER_INNER)]
    z_plane = float(lips[:, 2].mean()) - 0.004
    dirs = cam.rays(np.stack([xx + 0.5, yy + 0.5], axis=1))
    t = (z_plane - cam.centre[2]) / np.where(np.abs(dirs[:, 2]) > 1e-6, dirs[:, 2], 1e-6)
    pts = cam.centre + t[:, None] * dirs
    y_mid = 0.5 * (head.face_photo[13, 1] + head.face_photo[14, 1])
    part = np.where(pts[:, 1] < y_mid, PART_JAW, PART_SKULL).astype(np.int8)
    normals = np.tile(np.array([0.0, 0.0, 1.0]), (len(yy), 1))
    return _rigid_from_pixels(obs, cam, yy, xx, pts, normals, part, head, 1, 0.3)


def _body_gaussians(obs, head, cam, tri_id, holes, config) -> RigidGaussians:
    """Hair, ears, neck, torso. Above the jaw line: on the skull ellipsoid where the ray hits it, else at the ray's
    closest approach to it (continuous with the silhouette, so big hair does not split off when the head turns).
    Below: a camera-facing plane through the head centre, skinned so the torso stays still."""
    st = config.body_stride
    fg = (obs.mask > 0.5) & (tri_id < 0) & ~holes["eye_r"] & ~holes["eye_l"] & ~holes["mouth"]
    yy, xx = np.nonzero(fg[::st, ::st])
    yy, xx = yy * st, xx * st
    dirs = cam.rays(np.stack([xx + 0.5 * st, yy + 0.5 * st], axis=1))
    t_shell, hit = _ray_sphere(cam.centre, dirs, head.shell_centre, head.shell_radii)
    on_head = (cam.centre[1] + t_shell * dirs[:, 1]) > head.jaw_line_y
    toward_cam = -cam.R[2]                                     # head-frame direction towards the camera
    t_plane = cam.t[2] / (dirs @ cam.R[2])                     # plane through the head centre, facing the camera
    t_neck, on_neck = _ray_neck(cam.centre, dirs, head)
    t_body = np.where(on_neck & (t_neck < t_plane), t_neck, t_plane)
    t = np.where(on_head, t_shell, t_body)
    pts = cam.centre + t[:, None] * dirs
    normals = (pts - head.shell_centre) / head.shell_radii ** 2
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    # Halfway between the surface normal and the view: grazing discs at the skull's silhouette would otherwise
    # project to streaks (a visible seam in the hair); the view angle of a disc stays below 45 degrees.
    normals = np.where((on_head & hit)[:, None], normals + toward_cam, toward_cam)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    part = np.where(on_head, PART_SKULL, PART_BODY).astype(np.int8)
    g = _rigid_from_pixels(obs, cam, yy, xx, pts, normals, PART_BODY, head, st, config.normal_thickness,
                           opacity=np.clip(obs.mask[yy, xx], MIN_OPACITY, 1.0))
    g.part = part
    g.skin = np.where(on_head, 1.0, head.skin_weights(pts)).astype(np.float32)
    return g


def _ray_neck(origin: np.ndarray, dirs: np.ndarray, head: HeadModel):
    """First hit (t [N], hit [N]) of rays with the neck: a vertical elliptic cylinder under the skull."""
    c = np.array([head.shell_centre[0], 0.0, NECK_CENTRE_Z_M])
    r = np.array([NECK_RADII_M[0], 1e6, NECK_RADII_M[1]])    # infinite along y
    return _ray_sphere(origin, dirs, c, r)


def _hidden_neck(head: HeadModel, cam: _Camera, tri_id: np.ndarray, color: np.ndarray) -> RigidGaussians:
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
    return RigidGaussians(means=pts.astype(np.float32), quats=_disc_quats(normals),
                          scales=np.tile(np.float32([step, step, step * 0.25]), (n, 1)),
                          colors=np.tile(color.astype(np.float32), (n, 1)), opacities=np.ones(n, np.float32),
                          part=np.full(n, PART_BODY, np.int8), skin=head.skin_weights(pts))


def _back_of_head(head: HeadModel, cam: _Camera, body: RigidGaussians, skin: np.ndarray,
                  config: AvatarConfig) -> RigidGaussians:
    """Complete the unseen back and sides of the skull: the hair's median colour, except the sides of the face
    below the eyes and in front of the ears (cheeks and jaw seen from the side), which take the skin's (`skin` [3])."""
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
    top = body.part == PART_SKULL
    hair = np.median(body.colors[top], axis=0) if top.any() else np.array([0.2, 0.15, 0.1])
    spacing = np.sqrt(4 * np.pi * head.shell_radii.mean() ** 2 / n)
    scales = np.tile(np.array([spacing, spacing, spacing * config.normal_thickness]), (len(pts), 1))
    eye_y = float(head.eye_centres[:, 1].mean())
    cheek = (pts[:, 1] < eye_y - 0.01) & (pts[:, 2] > head.shell_centre[2])
    colors = np.where(cheek[:, None], skin[None, :], hair[None, :])
    return RigidGaussians(means=pts.astype(np.float32), quats=_disc_quats(normals), scales=scales.astype(np.float32),
                          colors=colors.astype(np.float32),
                          opacities=np.ones(len(pts), np.float32), part=np.full(len(pts), PART_SKULL, np.int8),
                          skin=np.ones(len(pts), np.float32))


def _grid(x0, x1, y0, y1, step):
    xs = np.arange(x0, x1 + 1e-9, step)
    ys = np.arange(y0, y1 + 1e-9, step)
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


def _mouth_shade(x: np.ndarray, cx: float, half_w: float) -> np.ndarray:
    """Ambient shading [N] of the mouth interior: 1 at the middle, darker towards the corners (cheeks shadow the
    side teeth), so the teeth read as a curved row rather than a flat white band."""
    return np.clip(1.0 - 0.55 * ((x - cx) / max(half_w, 1e-3)) ** 2, 0.35, 1.0)


def _mouth_interior(head: HeadModel) -> RigidGaussians:
    """Dark cavity (skull), upper teeth (skull), lower teeth and tongue (jaw), behind the lips."""
    f = head.face_rest
    cx = 0.5 * (f[78, 0] + f[308, 0])
    half_w = 0.5 * (f[308, 0] - f[78, 0])
    y_top, y_bot = f[13, 1], f[14, 1]
    z_lip = float(f[list(topo.LIP_UPPER_INNER + topo.LIP_LOWER_INNER), 2].mean())
    step = 0.0012
    groups = []

    def add(x, y, z, color, part, size=1.0):
        n = len(x)
        groups.append(RigidGaussians(
            means=np.stack([x, y, z], 1).astype(np.float32), quats=np.tile(np.float32([1, 0, 0, 0]), (n, 1)),
            scales=np.tile(np.float32([step * size, step * size, step * 0.3]), (n, 1)),
            colors=(np.float32(color)[None, :] * _mouth_shade(x, cx, half_w)[:, None]).astype(np.float32),
            opacities=np.ones(n, np.float32),
            part=np.full(n, part, np.int8), skin=np.ones(n, np.float32)))

    bulge = lambda x, depth: z_lip - depth - 0.25 * (x - cx) ** 2 / max(half_w, 1e-3)  # noqa: E731
    opened = rotate_about_hinge(f[[14]], np.ones(1, np.float32), head.rig.jaw_hinge, JAW_OPEN_MAX_RAD)
    y_low = float(opened[0, 1]) - 0.003          # lowest lower-lip height at jawOpen = 1
    x, y = _grid(cx - 0.95 * half_w, cx + 0.95 * half_w, y_low, y_top + 0.004, step)
    add(x, y, bulge(x, 0.016), (0.09, 0.025, 0.03), PART_SKULL, size=1.3)
    x, y = _grid(cx - 0.95 * half_w, cx + 0.95 * half_w, y_low, y_top + 0.004, 2 * step)
    add(x, y, bulge(x, 0.026), (0.05, 0.012, 0.015), PART_SKULL, size=2.6)      # back wall: never see-through
    x, y = _grid(cx - 0.75 * half_w, cx + 0.75 * half_w, y_top - 0.009, y_top + 0.002, step)
    add(x, y, bulge(x, 0.0045), (0.80, 0.77, 0.70), PART_SKULL)
    x, y = _grid(cx - 0.65 * half_w, cx + 0.65 * half_w, y_bot - 0.006, y_bot + 0.003, step)
    add(x, y, bulge(x, 0.0065), (0.70, 0.67, 0.60), PART_JAW)
    x, y = _grid(cx - 0.6 * half_w, cx + 0.6 * half_w, y_bot - 0.022, y_bot - 0.004, step)
    add(x, y, bulge(x, 0.012), (0.50, 0.20, 0.20), PART_JAW)
    return RigidGaussians.concatenate(groups)
