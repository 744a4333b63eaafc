"""Cameras and camera paths: orbits of the photo's camera about the head centre.

Conventions (DESIGN.md): OpenCV cameras (x right, y down, z forward); `viewmat` [4, 4] maps world (= head frame at
rest) to camera; `K` [3, 3] in pixels. A viewpoint of yaw = pitch = 0 reproduces the photo's camera. Positive yaw
moves the camera to the viewer's right around the head (the head is then seen more from its left side); positive
pitch moves the camera up (the head is seen from above).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

CameraPathKind = Literal["fixed", "orbit", "sway"]


def orbit_viewmat(T_cam_from_head: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """viewmat [4, 4] float32 of the photo camera orbited about the head centre by `yaw`, `pitch` (radians).

    The head centre (the head frame's origin) keeps its place in the image; the camera turns about the camera's own
    vertical (yaw) and horizontal (pitch) axes through it.
    """
    T = np.asarray(T_cam_from_head, dtype=np.float64)
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    R_yaw = np.array([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]])     # camera moves right -> scene turns left
    R_pitch = np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]])   # camera moves up -> scene turns down
    out = np.eye(4)
    out[:3, :3] = R_pitch @ R_yaw @ T[:3, :3]
    out[:3, 3] = T[:3, 3]
    return out.astype(np.float32)


def scale_intrinsics(K: np.ndarray, from_size: int, to_size: int) -> np.ndarray:
    """K [3, 3] for the same square view rendered at `to_size` instead of `from_size` pixels."""
    s = to_size / from_size
    out = np.asarray(K, dtype=np.float64).copy()
    out[:2] *= s
    return out.astype(np.float32)


def camera_path(kind: CameraPathKind, num_frames: int, fps: float, yaw: float = 0.0, pitch: float = 0.0
                ) -> np.ndarray:
    """Per-frame (yaw, pitch) in radians, float32 [T, 2].

    fixed: constant at (yaw, pitch); orbit: a full 60-degree swing left-right every 8 s around (yaw, pitch);
    sway: a gentle +-10 degree yaw sway with a 6 s period.
    Raises ValueError for an unknown kind.
    """
    t = np.arange(num_frames, dtype=np.float64) / fps
    if kind == "fixed":
        d_yaw = np.zeros_like(t)
    elif kind == "orbit":
        d_yaw = math.radians(30.0) * np.sin(2 * math.pi * t / 8.0)
    elif kind == "sway":
        d_yaw = math.radians(10.0) * np.sin(2 * math.pi * t / 6.0)
    else:
        raise ValueError(f"unknown camera path {kind!r}; choose fixed, orbit or sway")
    return np.stack([yaw + d_yaw, np.full_like(t, pitch)], axis=1).astype(np.float32)
