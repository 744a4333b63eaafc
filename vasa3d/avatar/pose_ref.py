"""NumPy reference of the avatar's posing: simple, slow, float32, for tests (`vasa3d.avatar.pose` is the PyTorch
implementation the product runs; the two must agree to 1e-5 m).

Face bindings follow GaussianAvatars (Qian et al. 2024): mean = barycentric point + k * R @ local_pos,
rotation = R * local rotation, scale = k * local scale (R, k: the triangle's frame and mean edge length), so they
move exactly with the mesh. FACE Gaussians also follow their triangle's in-plane stretch (photo -> posed): rotated
onto its major axis and scaled by its singular values. Rigid bindings: the jaw shifts then turns about its hinge,
the eyeballs turn about their centres; then everything turns with the head about the neck pivot by its skin weight.
"""

from __future__ import annotations

import numpy as np

from vasa3d.avatar.quat import matrix_from_axis_angle, quat_from_axis_angle, quat_from_matrix, quat_multiply, \
    triangle_frames
from vasa3d.avatar.types import Binding, Fade, GaussianParams
from vasa3d.head.kinematics import ISOTROPIC_DEV, STRETCH_CLIP
from vasa3d.head.model import HeadModel
from vasa3d.head.rig import EYE_LOOK_MAX_RAD, JAW_SHIFTS_M, rotate_about_hinge

MAX_OPACITY = 0.99   # below gsplat's 0.999 alpha clamp: a splat centred on a pixel then never trips the T < 1e-4 stop
                     # and leaves the pixel 10% transparent (dense pixel-aligned splats hit that rule everywhere)
LASH_FADE = (0.35, 0.85)   # a lash line fades in as eyeBlink goes from the first to the second value


def pose_reference(head: HeadModel, g: GaussianParams, names: tuple[str, ...], coeffs: np.ndarray,
                   head_rotation: np.ndarray, head_translation: np.ndarray, gaze: np.ndarray):
    """(means [N, 3], quats [N, 4], scales [N, 3], opacities [N], colors [N, 3]) float32, head frame at rest.

    Args: names/coeffs: rig coefficients by ARKit name; head_rotation [3] axis-angle rad; head_translation [3]
    metres; gaze [2] (yaw, pitch) rad. Raises ValueError for a name the rig does not support.
    """
    coeff = lambda name: float(coeffs[names.index(name)]) if name in names else 0.0  # noqa: E731
    verts = head.rig.deform(head.face_rest, names, coeffs)
    means = np.zeros((len(g), 3), np.float32)
    quats = np.zeros((len(g), 4), np.float32)
    scales = np.zeros((len(g), 3), np.float32)
    _face(head, verts, g, means, quats, scales)
    jaw_angle = head.rig.jaw_open_rad * coeff("jawOpen")
    jaw_shift = sum((coeff(n) * np.asarray(v, np.float32) for n, v in JAW_SHIFTS_M.items()), np.zeros(3, np.float32))
    rigid = g.binding >= int(Binding.SKULL)
    means[rigid], quats[rigid], scales[rigid] = g.local_pos[rigid], g.local_quat[rigid], g.local_scale[rigid]
    jaw = g.binding == int(Binding.JAW)
    means[jaw] = rotate_about_hinge(means[jaw] + jaw_shift, np.ones(int(jaw.sum()), np.float32), head.rig.jaw_hinge,
                                    jaw_angle)
    quats[jaw] = quat_multiply(np.array([[np.cos(jaw_angle / 2), np.sin(jaw_angle / 2), 0, 0]], np.float32), quats[jaw])
    for binding, centre, (yaw, pitch) in zip((Binding.EYE_R, Binding.EYE_L), head.eye_centres, _eye_gazes(coeff, gaze)):
        R = matrix_from_axis_angle(np.array([0.0, yaw, 0.0])) @ matrix_from_axis_angle(np.array([-pitch, 0.0, 0.0]))
        sel = g.binding == int(binding)
        means[sel] = (means[sel] - centre) @ R.T + centre
        quats[sel] = quat_multiply(quat_from_matrix(R[None]), quats[sel])
    means, quats = _skin(head, means, quats, g.skin, head_rotation, head_translation)
    opacities = np.minimum(g.opacities, MAX_OPACITY)
    for kind, name in ((Fade.BLINK_RIGHT, "eyeBlinkRight"), (Fade.BLINK_LEFT, "eyeBlinkLeft")):
        fade = np.clip((coeff(name) - LASH_FADE[0]) / (LASH_FADE[1] - LASH_FADE[0]), 0.0, 1.0)
        opacities = np.where(g.fade == int(kind), opacities * np.float32(fade), opacities)
    return means, quats, scales, opacities.astype(np.float32), g.colors


def _face(head: HeadModel, verts: np.ndarray, g: GaussianParams, means, quats, scales) -> None:
    """Fill the face-bound rows of means, quats, scales (see the module docstring)."""
    R, k = triangle_frames(verts, head.triangles)
    theta, sigma, k_ref = stretch_reference(head, verts, R)
    q_plain = quat_from_matrix(R)
    half = 0.5 * theta
    q_theta = np.stack([np.cos(half), np.zeros_like(half), np.zeros_like(half), np.sin(half)], axis=1)
    q_stretch = quat_multiply(q_plain, q_theta.astype(np.float32))
    axes = np.concatenate([sigma, np.sqrt(sigma[:, :1] * sigma[:, 1:])], axis=1) * k_ref[:, None]
    for binding in (Binding.FACE, Binding.FACE_RIGID, Binding.FACE_EDGE):
        i = g.select(binding)
        f = g.parent[i]
        unit = k_ref[f] if binding == Binding.FACE_EDGE else k[f]
        means[i] = (np.einsum("nk,nkd->nd", g.bary[i], verts[head.triangles[f]])
                    + unit[:, None] * np.einsum("nij,nj->ni", R[f], g.local_pos[i]))
        if binding == Binding.FACE:
            quats[i] = quat_multiply(q_stretch[f], g.local_quat[i])
            scales[i] = g.local_scale[i] * axes[f]
        else:
            quats[i] = quat_multiply(q_plain[f], g.local_quat[i])
            scales[i] = g.local_scale[i] * unit[:, None]


def stretch_reference(head: HeadModel, verts: np.ndarray, R: np.ndarray):
    """Per-triangle in-plane stretch from the photo mesh to `verts`: (theta [F] rad, the major stretch axis's angle
    from the triangle frame's first axis, 0 where isotropic; sigma [F, 2] singular values of F, clipped to
    `STRETCH_CLIP`; k_ref [F] the photo triangles' mean edge length, metres)."""
    R_ref, k_ref = triangle_frames(head.face_photo, head.triangles)
    E = _edges2d(head.triangles, head.face_photo, R_ref)
    det = E[:, 0, 0] * E[:, 1, 1] - E[:, 0, 1] * E[:, 1, 0]
    det = np.where(np.abs(det) > 1e-14, det, 1e-14)
    inv = np.stack([np.stack([E[:, 1, 1], -E[:, 0, 1]], 1), np.stack([-E[:, 1, 0], E[:, 0, 0]], 1)],
                   1) / det[:, None, None]
    F = np.einsum("fab,fbc->fac", _edges2d(head.triangles, verts, R), inv)
    a = (F[:, 0] ** 2).sum(1)                      # C = F F^T = [[a, b], [b, c]]
    b = (F[:, 0] * F[:, 1]).sum(1)
    c = (F[:, 1] ** 2).sum(1)
    mean, dev = 0.5 * (a + c), np.sqrt(np.maximum((0.5 * (a - c)) ** 2 + b * b, ISOTROPIC_DEV ** 2))
    sigma = np.clip(np.sqrt(np.maximum(np.stack([mean + dev, mean - dev], axis=1), 0.0)), *STRETCH_CLIP)
    theta = np.where(dev <= ISOTROPIC_DEV, 0.0, 0.5 * np.arctan2(2 * b, a - c))
    return theta.astype(np.float32), sigma.astype(np.float32), k_ref


def _edges2d(triangles: np.ndarray, v: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """[F, 2, 2]: each triangle's two edges from its vertex 0, in its in-plane axes (`frames` [F, 3, 3] columns)."""
    t0, t1, t2 = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    e = np.stack([v[t1] - v[t0], v[t2] - v[t0]], axis=2)             # [F, 3, 2]
    return np.einsum("fda,fdb->fab", frames[:, :, :2], e)


def _eye_gazes(coeff, gaze) -> tuple[np.ndarray, np.ndarray]:
    """(yaw, pitch) in radians of the right and the left eyeball: the sequence's gaze plus the ARKit eyeLook*
    coefficients (In/Out are relative to the nose; +yaw looks to the viewer's right = the subject's left)."""
    base = np.asarray(gaze, np.float32).reshape(2)
    right = base + EYE_LOOK_MAX_RAD * np.array([coeff("eyeLookInRight") - coeff("eyeLookOutRight"),
                                                coeff("eyeLookUpRight") - coeff("eyeLookDownRight")], np.float32)
    left = base + EYE_LOOK_MAX_RAD * np.array([coeff("eyeLookOutLeft") - coeff("eyeLookInLeft"),
                                               coeff("eyeLookUpLeft") - coeff("eyeLookDownLeft")], np.float32)
    return right, left


def _skin(head: HeadModel, means, quats, skin, rotvec, translation):
    """Turn the head about the neck pivot; each Gaussian follows `skin` [N] of the rotation and translation
    (1: all of it, the head; 0: none, the torso; between: the neck, by a slerp of the rotation)."""
    rotvec = np.asarray(rotvec, np.float32).reshape(3)
    translation = np.asarray(translation, np.float32).reshape(3)
    w = skin[:, None]
    qs = quat_from_axis_angle(rotvec[None] * w)
    u = qs[:, 1:]
    v = means - head.neck_pivot
    t = 2.0 * np.cross(u, v)
    moved = v + qs[:, :1] * t + np.cross(u, t) + head.neck_pivot + w * translation
    return moved.astype(np.float32), quat_multiply(qs, quats)
