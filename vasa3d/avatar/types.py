"""Containers of the avatar's Gaussians (gsplat parameterisation; metres, head frame at rest; quats wxyz)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

PART_SKULL = 1   # rigid with the skull (hair, ears, upper teeth, cavity)
PART_JAW = 2     # rigid with the jaw (lower teeth, tongue): rotates with jawOpen
PART_EYE_R = 3   # eyeball of the subject's right eye: turns with gaze
PART_EYE_L = 4
PART_BODY = 5    # neck and torso: follows head rotation by its skin weight (0 = torso)


@dataclass
class BoundGaussians:
    """N Gaussians bound to face-mesh triangles (GaussianAvatars, Qian et al. 2024).

    parent: int32 [N] triangle index; bary: float32 [N, 3] barycentric position; offset: float32 [N] along the
    triangle normal in units of the triangle scale k; local_quat: float32 [N, 4] wxyz rotation in the triangle frame;
    local_scale: float32 [N, 3] scales in units of k; colors: float32 [N, 3] RGB in [0, 1]; opacities: float32 [N].
    """

    parent: np.ndarray
    bary: np.ndarray
    offset: np.ndarray
    local_quat: np.ndarray
    local_scale: np.ndarray
    colors: np.ndarray
    opacities: np.ndarray

    def __len__(self) -> int:
        return int(self.parent.shape[0])


@dataclass
class RigidGaussians:
    """N Gaussians carried rigidly by a part of the head (see PART_*).

    means: float32 [N, 3] metres; quats: float32 [N, 4] wxyz; scales: float32 [N, 3] metres; colors: float32 [N, 3];
    opacities: float32 [N]; part: int8 [N]; skin: float32 [N] in [0, 1], share of the head rotation followed.
    """

    means: np.ndarray
    quats: np.ndarray
    scales: np.ndarray
    colors: np.ndarray
    opacities: np.ndarray
    part: np.ndarray
    skin: np.ndarray

    def __len__(self) -> int:
        return int(self.means.shape[0])

    @classmethod
    def concatenate(cls, items: list["RigidGaussians"]) -> "RigidGaussians":
        """Concatenate along N."""
        return cls(**{f.name: np.concatenate([getattr(g, f.name) for g in items]) for f in fields(cls)})
