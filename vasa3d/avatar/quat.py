"""Rotation helpers in NumPy for Gaussians: quaternions are wxyz (gsplat's order), float32, rows are items."""

from __future__ import annotations

import numpy as np


def quat_from_matrix(R: np.ndarray) -> np.ndarray:
    """Rotation matrices [N, 3, 3] -> unit quaternions [N, 4] wxyz with w >= 0 (Shepperd's method)."""
    R = np.asarray(R, dtype=np.float64)
    m00, m11, m22 = R[:, 0, 0], R[:, 1, 1], R[:, 2, 2]
    tr = m00 + m11 + m22
    q = np.empty((R.shape[0], 4))
    cand = np.stack([tr, m00, m11, m22], axis=1).argmax(axis=1)
    for case in range(4):
        i = cand == case
        if not i.any():
            continue
        r = R[i]
        if case == 0:
            s = np.sqrt(1.0 + tr[i]) * 2
            q[i] = np.stack([0.25 * s, (r[:, 2, 1] - r[:, 1, 2]) / s, (r[:, 0, 2] - r[:, 2, 0]) / s,
                             (r[:, 1, 0] - r[:, 0, 1]) / s], axis=1)
        elif case == 1:
            s = np.sqrt(1.0 + r[:, 0, 0] - r[:, 1, 1] - r[:, 2, 2]) * 2
            q[i] = np.stack([(r[:, 2, 1] - r[:, 1, 2]) / s, 0.25 * s, (r[:, 0, 1] + r[:, 1, 0]) / s,
                             (r[:, 0, 2] + r[:, 2, 0]) / s], axis=1)
        elif case == 2:
            s = np.sqrt(1.0 + r[:, 1, 1] - r[:, 0, 0] - r[:, 2, 2]) * 2
            q[i] = np.stack([(r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 0, 1] + r[:, 1, 0]) / s, 0.25 * s,
                             (r[:, 1, 2] + r[:, 2, 1]) / s], axis=1)
        else:
            s = np.sqrt(1.0 + r[:, 2, 2] - r[:, 0, 0] - r[:, 1, 1]) * 2
            q[i] = np.stack([(r[:, 1, 0] - r[:, 0, 1]) / s, (r[:, 0, 2] + r[:, 2, 0]) / s,
                             (r[:, 1, 2] + r[:, 2, 1]) / s, 0.25 * s], axis=1)
    q *= np.where(q[:, :1] < 0, -1.0, 1.0)
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b of wxyz quaternions [N, 4] (or broadcastable [1, 4]); float32 [N, 4]."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float32), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float32), -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def quat_from_axis_angle(rotvec: np.ndarray) -> np.ndarray:
    """Axis-angle vectors [N, 3] (radians) -> wxyz quaternions [N, 4]."""
    rotvec = np.asarray(rotvec, dtype=np.float64).reshape(-1, 3)
    angle = np.linalg.norm(rotvec, axis=1, keepdims=True)
    half = 0.5 * angle
    scale = np.where(angle > 1e-12, np.sin(half) / np.maximum(angle, 1e-12), 0.5)
    return np.concatenate([np.cos(half), rotvec * scale], axis=1).astype(np.float32)


def matrix_from_axis_angle(rotvec: np.ndarray) -> np.ndarray:
    """Axis-angle [3] (radians) -> rotation matrix [3, 3] float32 (Rodrigues)."""
    r = np.asarray(rotvec, dtype=np.float64).reshape(3)
    theta = float(np.linalg.norm(r))
    if theta < 1e-12:
        return np.eye(3, dtype=np.float32)
    k = r / theta
    Kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return (np.eye(3) + np.sin(theta) * Kx + (1 - np.cos(theta)) * Kx @ Kx).astype(np.float32)


def triangle_frames(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-triangle local frames (GaussianAvatars, Qian et al. 2024).

    Args:
        vertices: float32 [V, 3]; triangles: int [F, 3] wound outward.
    Returns:
        (R [F, 3, 3] float32 with columns edge direction, in-plane normal, face normal;
         k [F] float32 the mean edge length, metres: the frame's scale).
    """
    v0, v1, v2 = vertices[triangles[:, 0]], vertices[triangles[:, 1]], vertices[triangles[:, 2]]
    e1 = v1 - v0
    n = np.cross(e1, v2 - v0)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    e1 = e1 / np.maximum(np.linalg.norm(e1, axis=1, keepdims=True), 1e-12)
    e2 = np.cross(n, e1)
    R = np.stack([e1, e2, n], axis=2).astype(np.float32)
    k = (np.linalg.norm(v1 - v0, axis=1) + np.linalg.norm(v2 - v1, axis=1) + np.linalg.norm(v0 - v2, axis=1)) / 3
    return R, k.astype(np.float32)
