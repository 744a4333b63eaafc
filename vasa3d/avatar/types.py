"""Containers of the avatar's Gaussians (gsplat parameterisation; metres, head frame at rest; quats wxyz)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

PART_SKULL = 1   # rigid with the skull (hair, ears, upper teeth, cavity)
PART_JAW = 2     # rigid with the jaw (lower teeth, tongue): rotates with jawOpen
PART_EYE_R = 3   # eyeball of the subject's right eye: turns with gaze
PART_EYE_L = 4
PART_BODY = 5    # neck and torso: follows head rotation by its skin weight (0 = torso)
LASH_RIGHT = 1   # BoundGaussians.lash: lash line of the subject's right upper lid (fades in with eyeBlinkRight)
LASH_LEFT = 2    # ... of the left upper lid (eyeBlinkLeft)
EDGE_LINE = 3    # ... a line along an edge of the face (the inner lips): keeps its size as the skin stretches, no fade


@dataclass
class BoundGaussians:
    """N Gaussians bound to face-mesh triangles (GaussianAvatars, Qian et al. 2024).

    parent: int32 [N] triangle index; bary: float32 [N, 3] barycentric position; offset: float32 [N] along the
    triangle normal in units of the triangle scale k; local_quat: float32 [N, 4] wxyz rotation in the triangle frame;
    local_scale: float32 [N, 3] scales in units of k; colors: float32 [N, 3] RGB in [0, 1]; opacities: float32 [N];
    lash: int8 [N], 0 for skin, LASH_RIGHT / LASH_LEFT for the lash lines that fade in with a blink, EDGE_LINE for
    the inner-lip lines (default zeros);
    local_pos: float32 [N, 3] position relative to the barycentric point in the triangle frame, in units of k
    (GaussianAvatars' local position; default zeros; the skirt under the jaw uses it to reach the neck).
    """

    parent: np.ndarray
    bary: np.ndarray
    offset: np.ndarray
    local_quat: np.ndarray
    local_scale: np.ndarray
    colors: np.ndarray
    opacities: np.ndarray
    lash: np.ndarray | None = None
    local_pos: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.lash is None:
            self.lash = np.zeros(len(self), np.int8)
        if self.local_pos is None:
            self.local_pos = np.zeros((len(self), 3), np.float32)

    def __len__(self) -> int:
        return int(self.parent.shape[0])

    @classmethod
    def concatenate(cls, items: list["BoundGaussians"]) -> "BoundGaussians":
        """Concatenate along N."""
        return cls(**{f.name: np.concatenate([getattr(g, f.name) for g in items]) for f in fields(cls)})


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
