"""Lifting photo pixels into 3D Gaussians: the photo's camera in the head frame, ray casts, and the Gaussian of one
pixel (a disc on the surface it lands on, as wide as the pixel's footprint there).

Shared by the avatar builders (`build`, `eyes`, `complete`); head frame, metres; quaternions wxyz.
"""

from __future__ import annotations

import numpy as np

from vasa3d.avatar.quat import quat_from_matrix
from vasa3d.avatar.types import PART_BODY, RigidGaussians
from vasa3d.face.analysis import FaceObservation

PIXEL_SIGMA = 0.6         # in-plane standard deviation of a pixel's Gaussian, in pixels (before the slant factor)
MAX_SLANT = 3.0           # cap on the 1/cos(view angle) stretch of grazing Gaussians


class Camera:
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
        """Camera-frame points [N, 3] -> head frame."""
        return (p_cam - self.t) @ self.R

    def metres_per_px(self, points: np.ndarray) -> np.ndarray:
        """float32 [N]: the footprint of one pixel, in metres, at head-frame points [N, 3]."""
        return ((points @ self.R.T + self.t)[:, 2] / self.focal).astype(np.float32)


    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixel coordinates [N, 2] (x, y) of head-frame points [N, 3]."""
        p = (points @ self.R.T + self.t) @ self.K.T
        return p[:, :2] / p[:, 2:]


def slant_scales(normals: np.ndarray, rays: np.ndarray, sigma_m: np.ndarray, thickness: float) -> np.ndarray:
    """In-plane scales stretched by 1/|cos| of the view angle (capped), normal scale = thickness * in-plane."""
    cos = np.abs(np.einsum("ij,ij->i", normals, rays))
    s = sigma_m * np.minimum(1.0 / np.maximum(cos, 1e-3), MAX_SLANT)
    return np.stack([s, s, thickness * s], axis=1).astype(np.float32)


def block_mean(image: np.ndarray, yy: np.ndarray, xx: np.ndarray, st: int) -> np.ndarray:
    """float32 [N, 3]: the mean colour of the `st` x `st` pixel blocks whose top-left corners are (yy, xx)."""
    if st == 1:
        return image[yy, xx].astype(np.float32)
    S = image.shape[0]
    acc = np.zeros((len(yy), 3), np.float32)
    for dy in range(st):
        for dx in range(st):
            acc += image[np.minimum(yy + dy, S - 1), np.minimum(xx + dx, S - 1)]
    return acc / (st * st)


def disc_quats(normals: np.ndarray) -> np.ndarray:
    """wxyz quaternions [N, 4] of frames whose third axis is `normals` [N, 3] (unit)."""
    helper = np.where(np.abs(normals[:, :1]) < 0.9, np.array([[1.0, 0, 0]]), np.array([[0, 1.0, 0]]))
    e1 = np.cross(helper, normals)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(normals, e1)
    return quat_from_matrix(np.stack([e1, e2, normals], axis=2))


def rigid_from_pixels(obs, cam, yy, xx, points, normals, part, head, st, thickness, opacity=None):
    """Rigid Gaussians for the pixel blocks (yy, xx) [N] landed at `points` [N, 3] on a surface with `normals`:
    the photo colour, discs one pixel footprint wide (slanted by the view angle), `part` (scalar or int8 [N]),
    skin weight 1 (PART_BODY: from `head.skin_weights`)."""
    rays = cam.rays(np.stack([xx + 0.5, yy + 0.5], axis=1))
    scales = slant_scales(normals, rays, PIXEL_SIGMA * st * cam.metres_per_px(points), thickness)
    colors = block_mean(obs.image, yy, xx, st)
    opac = np.ones(len(yy), np.float32) if opacity is None else opacity
    weights = np.ones(len(yy), np.float32) if part is not PART_BODY else head.skin_weights(points)
    parts = np.full(len(yy), part, np.int8) if np.isscalar(part) else part
    return RigidGaussians(means=points.astype(np.float32), quats=disc_quats(normals), scales=scales,
                          colors=colors, opacities=opac.astype(np.float32), part=parts, skin=weights)


def ray_ellipsoid(origin: np.ndarray, dirs: np.ndarray, centre: np.ndarray, radii: np.ndarray):
    """First hit of rays with the ellipsoid (centre, radii); returns (t [N], hit bool [N])."""
    o = (origin - centre) / radii
    d = dirs / radii
    a = (d * d).sum(1)
    b = 2 * (d @ o)
    c = o @ o - 1.0
    disc = b * b - 4 * a * c
    t = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a)
    return t, disc > 0


