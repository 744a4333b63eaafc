"""Audit of a built avatar's Gaussians against the head model's surface: how far each posed Gaussian reaches from
the surfaces the builder places Gaussians on, so stray pieces (threads stretched by a deforming triangle, blobs
floating off the skull, flaps under the chin) are found by a test rather than by eye.

The surface is the union of the posed face mesh, the head's skull and hair volume (`head.volume`), the eyeballs,
the mouth interior (`vasa3d.head.mouth`), the neck cylinder and the curved torso (`head.torso`), all posed like the
Gaussians that ride on them (skin weights for the neck).
Head frame at rest, metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REACH_SIGMAS = 3.0          # a Gaussian reaches this many standard deviations along each of its axes
SAMPLE_STEP_M = 0.003       # spacing of the surface samples
ENDS_FROM_M = 0.005         # Gaussians reaching farther than this are measured at their axis ends


@dataclass(frozen=True)
class Reach:
    """Per-Gaussian figures of one pose: `distance` float [N], metres from the farthest point of the Gaussian's
    `REACH_SIGMAS` ellipsoid (its centre and its six axis ends) to the nearest surface sample; `extent` float [N],
    `REACH_SIGMAS` times its largest standard deviation, metres."""

    distance: np.ndarray
    extent: np.ndarray


class SurfaceAudit:
    """The `Reach` of an avatar's Gaussians in any pose: the pose-independent surface samples (shell, eyeballs,
    mouth interior, neck, torso) and the posing tensors are made once.

    Args: avatar: an `Avatar`."""

    def __init__(self, avatar):
        from vasa3d.avatar.pose import AvatarTensors
        from vasa3d.head.model import NECK_CENTRE_Z_M, NECK_LENGTH_M, NECK_RADII_M
        from vasa3d.head.mouth import mouth_surfaces

        head = avatar.head
        self.avatar = avatar
        self.tensors = AvatarTensors.from_avatar(avatar, "cpu")
        shell = head.volume.samples(8000)[0]
        eyes = np.concatenate([c + _sphere(200) * 0.012 for c in head.eye_centres])
        mouth = np.concatenate([s.points for s in mouth_surfaces(head)])
        y0 = head.jaw_line_y - NECK_LENGTH_M - 0.1
        a, y = np.meshgrid(np.arange(0, 2 * np.pi, SAMPLE_STEP_M / NECK_RADII_M[0]),
                           np.arange(y0, head.jaw_line_y + 0.05, SAMPLE_STEP_M))
        neck = np.stack([head.shell_centre[0] + NECK_RADII_M[0] * np.sin(a.ravel()), y.ravel(),
                         NECK_CENTRE_Z_M + NECK_RADII_M[1] * np.cos(a.ravel())], axis=1)
        body = np.concatenate([neck, _torso_samples(avatar)])
        self.static = np.concatenate([shell, eyes, mouth, body]).astype(np.float32)
        self.static_skin = np.concatenate([np.ones(len(shell) + len(eyes) + len(mouth)),
                                           head.skin_weights(body)]).astype(np.float32)

    def surface_samples(self, pose) -> np.ndarray:
        """float [M, 3]: points on the head model's surface (see the module docstring) in `pose` (a `FramePose`),
        about `SAMPLE_STEP_M` apart, head frame at rest (= world), metres."""
        from vasa3d.avatar.pose_ref import _skin

        head = self.avatar.head
        verts = head.rig.deform(head.face_rest, tuple(pose.names), np.asarray(pose.coeffs, np.float32))
        face = np.einsum("sk,fkd->fsd", _triangle_weights(6), verts[head.triangles]).reshape(-1, 3)
        pts = np.concatenate([face, self.static]).astype(np.float32)
        skin = np.concatenate([np.ones(len(face), np.float32), self.static_skin])
        quats = np.tile(np.float32([1, 0, 0, 0]), (len(pts), 1))
        moved, _ = _skin(head, pts, quats, skin, pose.head_rotation, pose.head_translation)
        return moved

    def reach(self, pose) -> Reach:
        """`Reach` of every Gaussian posed by `pose` (a `FramePose`; `vasa3d.avatar.pose`). The axis ends are
        measured for Gaussians reaching farther than `ENDS_FROM_M`; for the rest `distance` is the bound
        distance(centre) + extent (at most `ENDS_FROM_M` over the exact figure)."""
        import torch
        from scipy.spatial import cKDTree

        from vasa3d.avatar.pose import frame_tensors, pose_tensors
        from vasa3d.head.rotation import matrix_from_quat

        with torch.no_grad():
            g = pose_tensors(self.tensors, *frame_tensors(self.tensors, pose)).numpy()
        extent = REACH_SIGMAS * g.scales.max(axis=1)
        tree = cKDTree(self.surface_samples(pose))
        centre, _ = tree.query(g.means)
        distance = centre + extent
        big = np.flatnonzero(extent > ENDS_FROM_M)
        if len(big):
            axes = matrix_from_quat(torch.from_numpy(g.quats[big])).numpy() * (REACH_SIGMAS * g.scales[big])[:, None]
            ends = g.means[big, None] + np.concatenate([axes, -axes], axis=2).transpose(0, 2, 1)   # [B, 6, 3]
            d, _ = tree.query(ends.reshape(-1, 3))
            distance[big] = np.maximum(centre[big], d.reshape(len(big), 6).max(axis=1))
        return Reach(distance=distance.astype(np.float32), extent=extent)


def _triangle_weights(n: int) -> np.ndarray:
    """float [S, 3]: barycentric weights of a triangular grid with `n` steps per edge (corners included)."""
    i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1))
    keep = (i + j) <= n
    a, b = i[keep] / n, j[keep] / n
    return np.stack([1 - a - b, a, b], axis=1)


def _sphere(n: int) -> np.ndarray:
    """float [n, 3]: a Fibonacci lattice on the unit sphere."""
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5 ** 0.5) * i
    return np.stack([np.sin(phi) * np.cos(theta), np.cos(phi), np.sin(phi) * np.sin(theta)], axis=1)


def _torso_samples(avatar) -> np.ndarray:
    """float [M, 3]: samples of the head model's torso (`head.torso`) all round, from the jaw line down to its
    `bottom_y`, head frame."""
    head = avatar.head
    torso = head.torso
    theta, y = np.meshgrid(np.arange(-np.pi, np.pi, SAMPLE_STEP_M / torso.half_width),
                           np.arange(torso.bottom_y - 0.02, head.jaw_line_y + 0.02, SAMPLE_STEP_M))
    return torso.surface(theta.ravel(), y.ravel())
