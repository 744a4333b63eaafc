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
from vasa3d.avatar.types import PART_EYE_L, PART_EYE_R, PART_JAW, BoundGaussians, RigidGaussians
from vasa3d.head.model import HeadModel
from vasa3d.head.rig import EYE_LOOK_MAX_RAD, JAW_OPEN_MAX_RAD, JAW_SHIFTS_M, rotate_about_hinge


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
    jaw_angle = JAW_OPEN_MAX_RAD * _coeff(pose, "jawOpen")
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
    return GaussianFrame(means=means, quats=quats, scales=scales, opacities=opacities, colors=colors)


def _coeff(pose: FramePose, name: str) -> float:
    return float(pose.coeffs[pose.names.index(name)]) if name in pose.names else 0.0


def _bound(head: HeadModel, verts: np.ndarray, g: BoundGaussians):
    R, k = triangle_frames(verts, head.triangles)
    tri = head.triangles[g.parent]
    means = np.einsum("nk,nkd->nd", g.bary, verts[tri]) + (g.offset * k[g.parent])[:, None] * R[g.parent][:, :, 2]
    quats = quat_multiply(quat_from_matrix(R)[g.parent], g.local_quat)
    scales = g.local_scale * k[g.parent][:, None]
    return means.astype(np.float32), quats, scales.astype(np.float32)


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
    """Turn the head about the neck pivot; each Gaussian follows `skin` [N] of the rotation and translation."""
    rotvec = np.asarray(rotvec, np.float32).reshape(3)
    translation = np.asarray(translation, np.float32).reshape(3)
    if not rotvec.any() and not translation.any():
        return means, quats
    pivot = head.neck_pivot
    out_m, out_q = means.copy(), quats.copy()
    full = skin >= 1.0
    R = matrix_from_axis_angle(rotvec)
    out_m[full] = (means[full] - pivot) @ R.T + pivot + translation
    out_q[full] = quat_multiply(quat_from_axis_angle(rotvec[None]), quats[full])
    part = (skin > 0.0) & ~full
    if part.any():
        w = skin[part][:, None]
        qs = quat_from_axis_angle(rotvec[None] * w)
        p = means[part] - pivot
        out_m[part] = _rotate_by_quats(qs, p) + pivot + w * translation
        out_q[part] = quat_multiply(qs, quats[part])
    return out_m, out_q


def _rotate_by_quats(q: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Rotate vectors v [N, 3] by unit quaternions q [N, 4] wxyz."""
    w, u = q[:, :1], q[:, 1:]
    t = 2.0 * np.cross(u, v)
    return (v + w * t + np.cross(u, t)).astype(np.float32)
