"""Place the avatar's Gaussians for one frame: rig the mesh, carry bound Gaussians with their triangles, turn the
jaw, the eyes and the head on the neck.

Bound Gaussians follow GaussianAvatars (Qian et al. 2024): mean = barycentric point + offset * k * normal,
rotation = R_triangle * local rotation, scale = k * local scale, with k the triangle's mean edge length, so they
move exactly with the mesh (no wobble by construction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vasa3d.avatar.quat import matrix_from_axis_angle, quat_from_axis_angle, quat_from_matrix, quat_multiply, \
    triangle_frames
from vasa3d.avatar.types import EDGE_LINE, LASH_LEFT, LASH_RIGHT, PART_EYE_L, PART_EYE_R, PART_JAW, BoundGaussians, RigidGaussians
from vasa3d.head.model import HeadModel
from vasa3d.head.rig import EYE_LOOK_MAX_RAD, JAW_SHIFTS_M, rotate_about_hinge


@dataclass
class GaussianFrame:
    """Gaussians of one frame in the head frame at rest (= world): means [N, 3] m, quats [N, 4] wxyz, scales [N, 3] m,
    opacities [N], colors [N, 3]; all float32 NumPy arrays."""

    means: np.ndarray
    quats: np.ndarray
    scales: np.ndarray
    opacities: np.ndarray
    colors: np.ndarray


@dataclass
class FramePose:
    """What drives one frame: rig coefficients by ARKit name, head rotation [3] (axis-angle, rad, head frame),
    head translation [3] (m), gaze [2] (yaw, pitch in rad; +yaw looks to the viewer's right, +pitch looks up)."""

    names: tuple[str, ...]
    coeffs: np.ndarray
    head_rotation: np.ndarray
    head_translation: np.ndarray
    gaze: np.ndarray


def pose_gaussians(head: HeadModel, face: BoundGaussians, rigid: RigidGaussians, pose: FramePose,
                   colors: np.ndarray | None = None, opacities: np.ndarray | None = None) -> GaussianFrame:
    """All Gaussians for one frame (face first, then rigid), in the head frame at rest.

    Raises ValueError for a coefficient name the rig does not support.
    """
    verts = head.rig.deform(head.face_rest, pose.names, pose.coeffs)
    f_means, f_quats, f_scales = _bound(head, verts, face)
    jaw_angle = head.rig.jaw_open_rad * _coeff(pose, "jawOpen")
    jaw_shift = sum((_coeff(pose, n) * np.asarray(v, np.float32) for n, v in JAW_SHIFTS_M.items()),
                    np.zeros(3, np.float32))
    r_means, r_quats = _rigid_local(head, rigid, jaw_angle, jaw_shift, _eye_gazes(pose))
    means = np.concatenate([f_means, r_means])
    quats = np.concatenate([f_quats, r_quats])
    skin = np.concatenate([np.ones(len(face), np.float32), rigid.skin])
    means, quats = _skin(head, means, quats, skin, pose.head_rotation, pose.head_translation)
    scales = np.concatenate([f_scales, rigid.scales])
    if colors is None:
        colors = np.concatenate([face.colors, rigid.colors])
    if opacities is None:
        opacities = np.concatenate([face.opacities, rigid.opacities])
    opacities = _fade_lashes(face, opacities, pose)
    return GaussianFrame(means=means, quats=quats, scales=scales, opacities=opacities, colors=colors)


LASH_FADE = (0.35, 0.85)   # the lash line fades in as eyeBlink goes from the first to the second value


def _fade_lashes(face: BoundGaussians, opacities: np.ndarray, pose: FramePose) -> np.ndarray:
    """`opacities` [N] with the lash-line Gaussians (the first len(face) entries are the face's) scaled by how
    far the lid is closed; a copy when anything changes."""
    lashes = np.flatnonzero(face.lash)
    if len(lashes) == 0:
        return opacities
    out = opacities.copy()
    for kind, name in ((LASH_RIGHT, "eyeBlinkRight"), (LASH_LEFT, "eyeBlinkLeft")):
        fade = np.clip((_coeff(pose, name) - LASH_FADE[0]) / (LASH_FADE[1] - LASH_FADE[0]), 0.0, 1.0)
        sel = lashes[face.lash[lashes] == kind]
        out[sel] = opacities[sel] * np.float32(fade)
    return out


def _coeff(pose: FramePose, name: str) -> float:
    """The coefficient of `name` in `pose` (0 when absent)."""
    return float(pose.coeffs[pose.names.index(name)]) if name in pose.names else 0.0


def _bound(head: HeadModel, verts: np.ndarray, g: BoundGaussians):
    """Means, quats and scales [N, ...] of the bound Gaussians on the deformed mesh `verts` [V, 3].

    GaussianAvatars' rule: mean = barycentric point + k * (offset * normal + R @ local_pos), rotation = R * local
    rotation, scale = k * local scale (R, k: the triangle's frame and mean edge length); the inner-lip lines
    (EDGE_LINE) use the photo triangle's k, so they keep their width however the lip stretches. The skin Gaussians on the
    surface (no local position, no lash) also follow their triangle's deformation gradient F (photo triangle ->
    posed triangle): rotated onto F's principal axes and scaled by its singular values, so a stretched triangle (a
    closing lid, an opening lip) keeps them overlapping instead of opening gaps (exact for equal in-plane scales,
    as built).
    """
    R, k = triangle_frames(verts, head.triangles)
    theta, sigma, k_ref = _stretch(head, verts, R)
    k_g = np.where(g.lash == EDGE_LINE, k_ref[g.parent], k[g.parent])    # each Gaussian's length unit
    tri = head.triangles[g.parent]
    means = np.einsum("nk,nkd->nd", g.bary, verts[tri]) + (g.offset * k_g)[:, None] * R[g.parent][:, :, 2]
    q_plain = quat_from_matrix(R)
    half = 0.5 * theta
    q_theta = np.stack([np.cos(half), np.zeros_like(half), np.zeros_like(half), np.sin(half)], axis=1)
    q_tri = quat_multiply(q_plain, q_theta.astype(np.float32))
    quats = quat_multiply(q_tri[g.parent], g.local_quat)
    axes = np.concatenate([sigma, np.sqrt(sigma[:, :1] * sigma[:, 1:])], axis=1) * k_ref[:, None]
    scales = g.local_scale * axes[g.parent]
    special = np.flatnonzero((g.lash != 0) | g.local_pos.any(axis=1))    # lash lines and the jaw skirt
    if len(special):
        f = g.parent[special]
        means[special] += k_g[special][:, None] * np.einsum("nij,nj->ni", R[f], g.local_pos[special])
        quats[special] = quat_multiply(q_plain[f], g.local_quat[special])
        scales[special] = g.local_scale[special] * k_g[special][:, None]
    return means.astype(np.float32), quats, scales.astype(np.float32)


def _stretch(head: HeadModel, verts: np.ndarray, R: np.ndarray):
    """Per-triangle in-plane stretch from the photo mesh to `verts`: (theta [F] rad, the major stretch axis's angle
    from the triangle frame's first axis; sigma [F, 2] singular values of F, clipped to [0.25, 6]; k_ref [F] the
    photo triangles' mean edge length, metres)."""
    inv, k_ref = _photo_edges_inverse(head)
    F = np.einsum("fab,fbc->fac", _edges2d(head.triangles, verts, R), inv)
    a = (F[:, 0] ** 2).sum(1)                      # C = F F^T = [[a, b], [b, c]]
    b = (F[:, 0] * F[:, 1]).sum(1)
    c = (F[:, 1] ** 2).sum(1)
    mean, dev = 0.5 * (a + c), np.sqrt((0.5 * (a - c)) ** 2 + b * b)
    sigma = np.sqrt(np.maximum(np.stack([mean + dev, mean - dev], axis=1), 0.0))
    theta = 0.5 * np.arctan2(2 * b, a - c)
    return theta.astype(np.float32), np.clip(sigma, 0.25, 6.0).astype(np.float32), k_ref


def _edges2d(triangles: np.ndarray, v: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """[F, 2, 2]: each triangle's two edges from its vertex 0, in its in-plane axes (`frames` [F, 3, 3] columns)."""
    t0, t1, t2 = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    e = np.stack([v[t1] - v[t0], v[t2] - v[t0]], axis=2)             # [F, 3, 2]
    return np.einsum("fda,fdb->fab", frames[:, :, :2], e)


def _photo_edges_inverse(head: HeadModel) -> tuple[np.ndarray, np.ndarray]:
    """(inverse [F, 2, 2] of the photo mesh's in-plane edge matrices, its triangles' mean edge length k_ref [F]):
    fixed for a head, so computed once and kept on it (recomputed if `face_photo` is replaced)."""
    cached = head.__dict__.get("_photo_edges_inverse")
    if cached is not None and cached[0] is head.face_photo:
        return cached[1], cached[2]
    R_ref, k_ref = triangle_frames(head.face_photo, head.triangles)
    E = _edges2d(head.triangles, head.face_photo, R_ref)
    det = E[:, 0, 0] * E[:, 1, 1] - E[:, 0, 1] * E[:, 1, 0]
    det = np.where(np.abs(det) > 1e-14, det, 1e-14)
    inv = np.stack([np.stack([E[:, 1, 1], -E[:, 0, 1]], 1), np.stack([-E[:, 1, 0], E[:, 0, 0]], 1)],
                   1) / det[:, None, None]
    head.__dict__["_photo_edges_inverse"] = (head.face_photo, inv, k_ref)
    return inv, k_ref


def _eye_gazes(pose: FramePose) -> tuple[np.ndarray, np.ndarray]:
    """(yaw, pitch) in radians of the right and the left eyeball: the sequence's gaze plus the ARKit eyeLook*
    coefficients (In/Out are relative to the nose; +yaw looks to the viewer's right = the subject's left)."""
    c = lambda name: _coeff(pose, name)  # noqa: E731
    base = np.asarray(pose.gaze, np.float32).reshape(2)
    right = base + EYE_LOOK_MAX_RAD * np.array([c("eyeLookInRight") - c("eyeLookOutRight"),
                                                c("eyeLookUpRight") - c("eyeLookDownRight")], np.float32)
    left = base + EYE_LOOK_MAX_RAD * np.array([c("eyeLookOutLeft") - c("eyeLookInLeft"),
                                               c("eyeLookUpLeft") - c("eyeLookDownLeft")], np.float32)
    return right, left


def _rigid_local(head: HeadModel, g: RigidGaussians, jaw_angle: float, jaw_shift: np.ndarray, gazes):
    """Jaw (shift, then hinge rotation) and eyeball motion of the rigid Gaussians, before the head turns."""
    means, quats = g.means.copy(), g.quats.copy()
    jaw = g.part == PART_JAW
    if jaw_shift.any():        # as on the mesh: the linear shapes first, then the hinge rotation
        means[jaw] += jaw_shift
    if jaw_angle != 0.0 and jaw.any():
        means[jaw] = rotate_about_hinge(means[jaw], np.ones(int(jaw.sum()), np.float32), head.rig.jaw_hinge, jaw_angle)
        q = np.array([[np.cos(jaw_angle / 2), np.sin(jaw_angle / 2), 0, 0]], np.float32)
        quats[jaw] = quat_multiply(q, quats[jaw])
    for part, centre, (yaw, pitch) in ((PART_EYE_R, head.eye_centres[0], gazes[0]),
                                       (PART_EYE_L, head.eye_centres[1], gazes[1])):
        if yaw == 0.0 and pitch == 0.0:
            continue
        R = matrix_from_axis_angle(np.array([0.0, yaw, 0.0])) @ matrix_from_axis_angle(np.array([-pitch, 0.0, 0.0]))
        sel = g.part == part
        means[sel] = (means[sel] - centre) @ R.T + centre
        quats[sel] = quat_multiply(quat_from_matrix(R[None]), quats[sel])
    return means, quats


def _skin(head: HeadModel, means, quats, skin, rotvec, translation):
    """Turn the head about the neck pivot; each Gaussian follows `skin` [N] of the rotation and translation
    (1: all of it, the head; 0: none, the torso; between: the neck, by a slerp of the rotation)."""
    rotvec = np.asarray(rotvec, np.float32).reshape(3)
    translation = np.asarray(translation, np.float32).reshape(3)
    if not rotvec.any() and not translation.any():
        return means, quats
    pivot = head.neck_pivot
    R = matrix_from_axis_angle(rotvec)
    q = quat_from_axis_angle(rotvec[None])[0]
    out_m = (means - pivot) @ R.T + (pivot + translation)          # everything as the head, then fix the rest
    out_q = quats @ _left_multiplication(q).T
    still = np.flatnonzero(skin <= 0.0)
    out_m[still], out_q[still] = means[still], quats[still]
    part = np.flatnonzero((skin > 0.0) & (skin < 1.0))
    if len(part):
        w = skin[part][:, None]
        qs = quat_from_axis_angle(rotvec[None] * w)
        out_m[part] = _rotate_by_quats(qs, means[part] - pivot) + pivot + w * translation
        out_q[part] = quat_multiply(qs, quats[part])
    return out_m.astype(np.float32), out_q.astype(np.float32)


def _left_multiplication(q: np.ndarray) -> np.ndarray:
    """float32 [4, 4] L with L @ p = q * p (Hamilton product, wxyz) for any quaternion p."""
    w, x, y, z = (float(v) for v in q)
    return np.array([[w, -x, -y, -z], [x, w, -z, y], [y, z, w, -x], [z, -y, x, w]], np.float32)


def _rotate_by_quats(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v [N, 3] by unit quaternions q [N, 4] wxyz."""
    w, u = q[:, :1], q[:, 1:]
    t = 2.0 * np.cross(u, v)
    return (v + w * t + np.cross(u, t)).astype(np.float32)
