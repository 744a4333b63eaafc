"""Rotations in PyTorch, differentiable everywhere they are used (safe at zero angle and for any rotation matrix).

Quaternions are wxyz (gsplat's order), rows are items; axis-angle vectors are radians. The NumPy versions in
`vasa3d.avatar.quat` are the reference these are tested against.
"""

from __future__ import annotations

import torch

SMALL_ANGLE_SQ = 1e-12     # below this squared angle (rad^2) the series of sin/cos replace the exact forms


def quat_multiply(a: torch.Tensor, b: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Hamilton product a * b of wxyz quaternions along `dim` (size 4; broadcasting); same dtype as the inputs."""
    aw, ax, ay, az = a.unbind(dim)
    bw, bx, by, bz = b.unbind(dim)
    return torch.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                        aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], dim=dim)


def _half_angle_terms(rotvec: torch.Tensor, dim: int = -1) -> tuple[torch.Tensor, torch.Tensor]:
    """(cos(theta / 2), sin(theta / 2) / theta) of axis-angle vectors along `dim` (size 3), smooth through
    theta = 0; `dim` is kept with size 1."""
    sq = (rotvec * rotvec).sum(dim, keepdim=True)
    small = sq < SMALL_ANGLE_SQ
    theta = torch.sqrt(torch.where(small, torch.ones_like(sq), sq))
    cos_half = torch.where(small, 1.0 - sq / 8.0, torch.cos(0.5 * theta))
    sinc_half = torch.where(small, 0.5 - sq / 48.0, torch.sin(0.5 * theta) / theta)
    return cos_half, sinc_half


def quat_from_axis_angle(rotvec: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Axis-angle vectors (radians) along `dim` (size 3) -> unit wxyz quaternions along `dim` (size 4)."""
    cos_half, sinc_half = _half_angle_terms(rotvec, dim)
    return torch.cat([cos_half, rotvec * sinc_half], dim=dim)


def matrix_from_quat(q: torch.Tensor) -> torch.Tensor:
    """Unit wxyz quaternions [..., 4] -> rotation matrices [..., 3, 3]: (w^2 - |v|^2) I + 2 v v^T + 2 w [v]x."""
    w, v = q[..., :1, None], q[..., 1:]
    eye = torch.eye(3, dtype=q.dtype, device=q.device)
    return ((w * w - (v * v).sum(-1)[..., None, None]) * eye + 2.0 * v[..., :, None] * v[..., None, :]
            + 2.0 * w * skew(v))


_SKEW = ((0, 0, 0, 0, 0, -1, 0, 1, 0), (0, 0, 1, 0, 0, 0, -1, 0, 0), (0, -1, 0, 1, 0, 0, 0, 0, 0))


def skew(v: torch.Tensor) -> torch.Tensor:
    """Cross-product matrices [..., 3, 3] of vectors v [..., 3]: skew(v) @ u = v x u."""
    basis = torch.tensor(_SKEW, dtype=v.dtype, device=v.device)
    return (v @ basis).reshape(*v.shape[:-1], 3, 3)


def matrix_from_axis_angle(rotvec: torch.Tensor) -> torch.Tensor:
    """Axis-angle vectors [..., 3] (radians) -> rotation matrices [..., 3, 3] (through the unit quaternion)."""
    return matrix_from_quat(quat_from_axis_angle(rotvec))


_LEFT_INDEX = (0, 1, 2, 3, 1, 0, 3, 2, 2, 3, 0, 1, 3, 2, 1, 0)
_LEFT_SIGN = (1, -1, -1, -1, 1, 1, -1, 1, 1, 1, 1, -1, 1, -1, 1, 1)
_RIGHT_SIGN = (1, -1, -1, -1, 1, 1, 1, -1, 1, -1, 1, 1, 1, 1, -1, 1)


def left_matrix(q: torch.Tensor) -> torch.Tensor:
    """[..., 4, 4] L with L @ p = q * p (Hamilton product) for wxyz quaternions q [..., 4]."""
    index = torch.tensor(_LEFT_INDEX, device=q.device)
    sign = torch.tensor(_LEFT_SIGN, dtype=q.dtype, device=q.device)
    return (q.index_select(-1, index) * sign).reshape(*q.shape[:-1], 4, 4)


def right_matrix(p: torch.Tensor) -> torch.Tensor:
    """[..., 4, 4] R with R @ q = q * p (Hamilton product) for wxyz quaternions p [..., 4]."""
    index = torch.tensor(_LEFT_INDEX, device=p.device)
    sign = torch.tensor(_RIGHT_SIGN, dtype=p.dtype, device=p.device)
    return (p.index_select(-1, index) * sign).reshape(*p.shape[:-1], 4, 4)


# 4 q q^T of a rotation matrix's quaternion as a linear function of its 9 entries (row-major) plus a constant
_QQ_FROM_R = torch.tensor([
    # w w,   w x,   w y,   w z,   x w,   x x,   x y,   x z,   y w,   y x,   y y,   y z,   z w,   z x,   z y,   z z
    [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1],      # m00
    [0, 0, 0, -1, 0, 0, 1, 0, 0, 1, 0, 0, -1, 0, 0, 0],      # m01
    [0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0],        # m02
    [0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0],        # m10
    [1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0, 0, 0, 0, -1],      # m11
    [0, -1, 0, 0, -1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0],      # m12
    [0, 0, -1, 0, 0, 0, 0, 1, -1, 0, 0, 0, 0, 1, 0, 0],      # m20
    [0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0],        # m21
    [1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1]], dtype=torch.float64)   # m22
_QQ_CONST = torch.tensor([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1], dtype=torch.float64)


def quat_from_matrix(R: torch.Tensor) -> torch.Tensor:
    """Rotation matrices [F, 3, 3] -> unit wxyz quaternions [F, 4] with w >= 0.

    Method (Shepperd 1978): 4 q q^T is linear in R; the row of it whose diagonal entry the largest of trace and
    diagonal of R picks (as the NumPy reference does) is q times 2|q_j|, well conditioned."""
    F = R.shape[0]
    QQ = (R.reshape(F, 9) @ _QQ_FROM_R.to(R)) + _QQ_CONST.to(R)                 # [F, 16] = 4 q q^T
    diag = R.diagonal(dim1=1, dim2=2)
    best = torch.cat([diag.sum(1, keepdim=True), diag], 1).argmax(1)
    row = QQ.reshape(F, 4, 4).gather(1, best[:, None, None].expand(F, 1, 4))[:, 0]
    q = row * torch.where(row[:, :1] < 0, -1.0, 1.0).to(R.dtype)
    return q / q.norm(dim=1, keepdim=True)


def rotate_by_quats(q: torch.Tensor, v: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Rotate vectors v (size 3 along `dim`) by unit wxyz quaternions q (size 4 along `dim`), broadcasting."""
    w, u = q.narrow(dim, 0, 1), q.narrow(dim, 1, 3)
    t = 2.0 * torch.linalg.cross(u.expand_as(v), v, dim=dim)
    return v + w * t + torch.linalg.cross(u.expand_as(t), t, dim=dim)
