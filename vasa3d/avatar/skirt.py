"""The skirt under the jaw: Gaussians bridging the face mesh's lower boundary (the jaw line, from one jaw angle round
the chin to the other) down and back to the neck cylinder, so a turned or raised head shows skin under the jaw,
not a gap between the face and the neck.

Each skirt Gaussian is bound to the boundary triangle of its jaw-line edge with a local position in that triangle's
frame (GaussianAvatars' local position, Qian et al. 2024), so it follows the jaw (jawOpen, jawLeft, ...) and the head
like the face does; its far end tucks into the neck. Where the photo camera sees the skirt (under the chin) it takes
the photo's pixels, elsewhere shaded skin. Head frame, metres.
"""

from __future__ import annotations

import numpy as np

from vasa3d.avatar.lift import Camera, disc_quats
from vasa3d.avatar.quat import quat_from_matrix, quat_multiply, triangle_frames
from vasa3d.avatar.types import Binding, BoundGaussians
from vasa3d.face.analysis import FaceObservation
from vasa3d.head.model import HeadModel

JAW_LINE = (361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132)
"""Face-oval vertices of the jaw line, from the subject's left jaw angle round the chin to the right one."""
SKIRT_STEP_M = 0.002       # spacing of skirt Gaussians along the jaw line and down to the neck
SKIRT_DROP_M = 0.02        # the skirt meets the neck this far below the jaw line
SKIRT_TUCK = 1.15          # the skirt runs this fraction of the way to the neck (> 1: into it)
SKIN_CHROMA = 0.04         # photo pixels under the chin within this rg-chromaticity distance of the jaw's are skin
UNDER_JAW_SHADE = 0.8      # unseen skirt: the jaw-line skin darkened by this (the shadow under the jaw)


def skirt_gaussians(obs: FaceObservation, head: HeadModel, cam: Camera, tri_id: np.ndarray,
                    neck_centre_z: float, neck_radius: float, neck_colour: np.ndarray) -> BoundGaussians:
    """Skirt Gaussians bound to the jaw-line triangles of `head` (its photo mesh).

    Args:
        obs: the photo's observation; cam: its camera; tri_id: int [S, S] face triangle per pixel (-1: none).
        neck_centre_z, neck_radius: the neck cylinder (axis vertical through x = 0, z = neck_centre_z), metres.
        neck_colour: RGB [3] of the completed neck, the colour the skirt fades to.
    Returns:
        `BoundGaussians` with `local_pos` set (the skin, lash fields zero).
    """
    f = head.face_photo
    R, k = triangle_frames(f, head.triangles)
    groups = []
    for a, b in zip(JAW_LINE[:-1], JAW_LINE[1:]):
        hits = np.flatnonzero((head.triangles == a).any(axis=1) & (head.triangles == b).any(axis=1))
        if len(hits) == 0:
            continue
        tri = int(hits[0])
        s, t = _edge_grid(f[a], f[b], head, neck_centre_z, neck_radius)
        start = (1 - s)[:, None] * f[a] + s[:, None] * f[b]
        end = _neck_point(start, head, neck_centre_z, neck_radius)
        pts = start + t[:, None] * (end - start)
        normal = _outward(f[b] - f[a], end - start, start, neck_centre_z)
        order = list(head.triangles[tri])
        bary = np.zeros((len(s), 3), np.float32)
        bary[:, order.index(a)], bary[:, order.index(b)] = 1 - s, s
        colour, keep = _colours(obs, cam, tri_id, pts, f[a], f[b], t, neck_colour)
        local = (pts - start) @ R[tri] / k[tri]
        groups.append((tri, bary[keep], local[keep], normal[keep], colour[keep]))
    return _assemble(groups, R, k)


def _edge_grid(pa: np.ndarray, pb: np.ndarray, head: HeadModel, z0: float, r: float):
    """(s [M], t [M]): positions along the edge (0..1) and along the way to the neck (0..SKIRT_TUCK)."""
    mid = 0.5 * (pa + pb)
    length = float(np.linalg.norm(_neck_point(mid[None], head, z0, r)[0] - mid))
    n_s = max(1, int(np.ceil(np.linalg.norm(pb - pa) / SKIRT_STEP_M)))
    n_t = max(2, int(np.ceil(SKIRT_TUCK * length / SKIRT_STEP_M)))
    s, t = np.meshgrid((np.arange(n_s) + 0.5) / n_s, np.linspace(0.0, SKIRT_TUCK, n_t + 1)[1:])
    return s.ravel(), t.ravel()


def _neck_point(start: np.ndarray, head: HeadModel, z0: float, r: float) -> np.ndarray:
    """Where the skirt from jaw-line points [N, 3] meets the neck: on the cylinder, in the horizontal direction of
    the point from the neck axis, `SKIRT_DROP_M` below the jaw line (or the point, if lower)."""
    d = np.stack([start[:, 0], start[:, 2] - z0], axis=1)
    d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
    y = np.minimum(start[:, 1], head.jaw_line_y) - SKIRT_DROP_M
    return np.stack([r * d[:, 0], y, z0 + r * d[:, 1]], axis=1)


def _outward(edge: np.ndarray, down: np.ndarray, start: np.ndarray, z0: float) -> np.ndarray:
    """Unit normals [M, 3] of the skirt surface (spanned by the jaw-line edge and the way down to the neck),
    pointing away from the neck axis and downwards."""
    n = np.cross(edge[None], down)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    away = np.stack([start[:, 0], -np.ones(len(start)) * 0.05, start[:, 2] - z0], axis=1)
    return np.where((np.einsum("ij,ij->i", n, away) < 0)[:, None], -n, n)


def _colours(obs, cam: Camera, tri_id, pts, pa, pb, t, neck_colour) -> tuple[np.ndarray, np.ndarray]:
    """(RGB [M, 3], keep bool [M]) of skirt points [M, 3] by what the photo shows at their pixel: behind the face
    (a face triangle covers it): the jaw-line skin fading to `neck_colour`, darkened by UNDER_JAW_SHADE; on the
    person and skin-like (`_skin_like`, e.g. under the chin): that pixel; anything else (a collar, a beard's edge,
    the background beside the neck) drops the point, so the skirt never changes the photo's own view."""
    S = obs.size
    px = cam.project(pts)
    inside = (px >= 0).all(axis=1) & (px < S).all(axis=1)
    ix = np.clip(px.astype(int), 0, S - 1)
    behind_face = inside & (tri_id[ix[:, 1], ix[:, 0]] >= 0)
    inner = cam.project(np.stack([pa, pb]) * np.float32([0.95, 1.0, 1.0]) + np.float32([0, 0.004, 0]))
    iy = np.clip(inner.astype(int), 0, S - 1)
    jaw = obs.image[iy[:, 1], iy[:, 0]].mean(axis=0)
    w = np.clip(t / SKIRT_TUCK, 0, 1)[:, None]
    shaded = UNDER_JAW_SHADE * ((1 - w) * jaw[None] + w * np.asarray(neck_colour)[None])
    photo = obs.image[ix[:, 1], ix[:, 0]]
    on_skin = inside & ~behind_face & (obs.mask[ix[:, 1], ix[:, 0]] > 0.5) & _skin_like(photo, jaw)
    return np.where(behind_face[:, None], shaded, photo).astype(np.float32), behind_face | on_skin


def _skin_like(rgb: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """bool [M]: colours [M, 3] with the chromaticity of `skin` [3] (within SKIN_CHROMA) and a brightness between
    0.3 and 1.5 times its (shadowed skin passes; a white collar, a dark suit do not)."""
    eps = 1e-6
    chroma = rgb[:, :2] / (rgb.sum(axis=1, keepdims=True) + eps)
    ref = skin[:2] / (skin.sum() + eps)
    ratio = rgb.sum(axis=1) / (skin.sum() + eps)
    return (np.linalg.norm(chroma - ref[None], axis=1) < SKIN_CHROMA) & (ratio > 0.3) & (ratio < 1.5)


def _assemble(groups, R: np.ndarray, k: np.ndarray) -> BoundGaussians:
    """One `BoundGaussians` from per-edge (triangle, bary [M, 3], local_pos [M, 3] in units of k, normals [M, 3],
    colours [M, 3]); discs `SKIRT_STEP_M` wide in the skirt's plane."""
    parent = np.concatenate([np.full(len(g[1]), g[0], np.int32) for g in groups])
    normals = np.concatenate([g[3] for g in groups])
    q_world = disc_quats(normals)
    q_tri_inv = quat_from_matrix(np.transpose(R[parent], (0, 2, 1)))
    sigma = 0.7 * SKIRT_STEP_M
    n = len(parent)
    return BoundGaussians(parent=parent, bary=np.concatenate([g[1] for g in groups]),
                          offset=np.zeros(n, np.float32), local_quat=quat_multiply(q_tri_inv, q_world),
                          local_scale=(np.float32([sigma, sigma, 0.25 * sigma])[None] / k[parent][:, None]
                                       ).astype(np.float32),
                          colors=np.concatenate([g[4] for g in groups]).astype(np.float32),
                          opacities=np.ones(n, np.float32), binding=np.full(n, int(Binding.FACE_RIGID), np.int8),
                          local_pos=np.concatenate([g[2] for g in groups]).astype(np.float32))
