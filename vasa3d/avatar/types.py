"""The avatar's Gaussians: one flat set of parameters with an explicit binding per Gaussian (gsplat
parameterisation; metres, head frame at rest; quats wxyz), and the two groups the single-photo builder assembles
it from.

A binding says what carries a Gaussian when the head moves (GaussianAvatars, Qian et al. 2024, for the face
triangles; rigid parts of the head model for the rest):

| binding      | carried by                          | local_pos, local_scale in units of       |
|--------------|-------------------------------------|------------------------------------------|
| `FACE`       | its face triangle, following the triangle's in-plane stretch | k (posed triangle's mean edge) |
| `FACE_RIGID` | its face triangle's frame, no stretch (lash lines, the skirt under the jaw) | k (posed) |
| `FACE_EDGE`  | its face triangle's frame, fixed size (inner-lip lines)       | k_ref (the photo triangle's) |
| `SKULL`      | the skull (hair, ears, upper teeth, cavity)                  | metres, head frame |
| `JAW`        | the jaw (lower teeth, tongue)                                | metres, head frame |
| `EYE_R/EYE_L`| the subject's right / left eyeball (gaze)                    | metres, head frame |
| `BODY`       | neck and torso (head rotation by the `skin` weight)          | metres, head frame |

Every Gaussian then follows `skin` (in [0, 1]) of the head's rotation about the neck pivot.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np


class Binding(IntEnum):
    """What carries a Gaussian (see the module docstring); stored as int8."""

    FACE = 0
    FACE_RIGID = 1
    FACE_EDGE = 2
    SKULL = 3
    JAW = 4
    EYE_R = 5
    EYE_L = 6
    BODY = 7


FACE_BINDINGS = (Binding.FACE, Binding.FACE_RIGID, Binding.FACE_EDGE)


class Fade(IntEnum):
    """Per-Gaussian opacity behaviour; stored as int8."""

    NONE = 0
    BLINK_RIGHT = 1   # fades in as eyeBlinkRight closes the subject's right lid (its lash line)
    BLINK_LEFT = 2    # ... eyeBlinkLeft


PART_SKULL = int(Binding.SKULL)    # `RigidGaussians.part` values are the rigid bindings
PART_JAW = int(Binding.JAW)
PART_EYE_R = int(Binding.EYE_R)
PART_EYE_L = int(Binding.EYE_L)
PART_BODY = int(Binding.BODY)


@dataclass
class GaussianParams:
    """N Gaussians, flat, with their bindings: what the avatar stores, poses and (later) fits.

    Attributes (NumPy, C-contiguous):
        binding: int8 [N] `Binding` values.
        parent: int32 [N] face triangle index for the face bindings, -1 otherwise.
        bary: float32 [N, 3] barycentric position in the parent triangle (zeros for rigid bindings).
        local_pos: float32 [N, 3] face bindings: offset from the barycentric point in the triangle frame (columns:
            edge direction, in-plane normal, face normal), in units of the binding's k; rigid bindings: the position
            at rest, metres, head frame.
        local_quat: float32 [N, 4] wxyz rotation: in the triangle frame for face bindings, in the head frame else.
        local_scale: float32 [N, 3] standard deviations: in units of k for face bindings, metres else.
        colors: float32 [N, 3] RGB in [0, 1]. opacities: float32 [N] in [0, 1] (clamped at pose time).
        skin: float32 [N] in [0, 1], share of the head's rotation and translation followed (1 = head, 0 = torso).
        fade: int8 [N] `Fade` values.
    """

    binding: np.ndarray
    parent: np.ndarray
    bary: np.ndarray
    local_pos: np.ndarray
    local_quat: np.ndarray
    local_scale: np.ndarray
    colors: np.ndarray
    opacities: np.ndarray
    skin: np.ndarray
    fade: np.ndarray

    DTYPES = {"binding": np.int8, "parent": np.int32, "fade": np.int8}
    WIDTHS = {"bary": 3, "local_pos": 3, "local_quat": 4, "local_scale": 3, "colors": 3}

    def __len__(self) -> int:
        return int(self.binding.shape[0])

    def validate(self) -> None:
        """Raise ValueError naming the first array of the wrong shape, dtype or value range."""
        n = len(self)
        for f in fields(self):
            a = getattr(self, f.name)
            want = (n, self.WIDTHS[f.name]) if f.name in self.WIDTHS else (n,)
            if not isinstance(a, np.ndarray) or a.shape != want:
                raise ValueError(f"Gaussian array '{f.name}' should have shape {list(want)}, got "
                                 f"{list(getattr(a, 'shape', ()))}")
            if a.dtype != self.DTYPES.get(f.name, np.float32):
                raise ValueError(f"Gaussian array '{f.name}' should be {np.dtype(self.DTYPES.get(f.name, np.float32))},"
                                 f" got {a.dtype}")
        if not np.isin(self.binding, [int(b) for b in Binding]).all():
            raise ValueError("Gaussian array 'binding' holds values that are not bindings")
        face = np.isin(self.binding, [int(b) for b in FACE_BINDINGS])
        if (self.parent[face] < 0).any() or (self.parent[~face] != -1).any():
            raise ValueError("Gaussian array 'parent' must be a triangle for face bindings and -1 for the rest")

    @classmethod
    def concatenate(cls, items: list["GaussianParams"]) -> "GaussianParams":
        """Concatenate along N."""
        return cls(**{f.name: np.concatenate([getattr(g, f.name) for g in items]) for f in fields(cls)})

    @classmethod
    def from_parts(cls, face: "BoundGaussians", rigid: "RigidGaussians") -> "GaussianParams":
        """The flat set of the builder's two groups: face-bound first, then rigid."""
        n_f, n_r = len(face), len(rigid)
        local_pos = face.local_pos + np.stack([np.zeros(n_f), np.zeros(n_f), face.offset], axis=1)
        return cls(
            binding=np.concatenate([face.binding, rigid.part]).astype(np.int8),
            parent=np.concatenate([face.parent, np.full(n_r, -1)]).astype(np.int32),
            bary=np.concatenate([face.bary, np.zeros((n_r, 3))]).astype(np.float32),
            local_pos=np.concatenate([local_pos, rigid.means]).astype(np.float32),
            local_quat=np.concatenate([face.local_quat, rigid.quats]).astype(np.float32),
            local_scale=np.concatenate([face.local_scale, rigid.scales]).astype(np.float32),
            colors=np.concatenate([face.colors, rigid.colors]).astype(np.float32),
            opacities=np.concatenate([face.opacities, rigid.opacities]).astype(np.float32),
            skin=np.concatenate([np.ones(n_f), rigid.skin]).astype(np.float32),
            fade=np.concatenate([face.fade, np.zeros(n_r)]).astype(np.int8))

    def select(self, binding: Binding) -> np.ndarray:
        """int64 [M] indices of the Gaussians with `binding`."""
        return np.flatnonzero(self.binding == int(binding))


@dataclass
class BoundGaussians:
    """The builder's N Gaussians bound to face-mesh triangles (GaussianAvatars, Qian et al. 2024).

    parent: int32 [N] triangle index; bary: float32 [N, 3] barycentric position; offset: float32 [N] along the
    triangle normal in units of k; local_quat: float32 [N, 4] wxyz rotation in the triangle frame; local_scale:
    float32 [N, 3] scales in units of k; colors: float32 [N, 3] RGB in [0, 1]; opacities: float32 [N];
    binding: int8 [N] one of `FACE_BINDINGS` (default FACE); fade: int8 [N] `Fade` (default NONE);
    local_pos: float32 [N, 3] position relative to the barycentric point in the triangle frame, units of k
    (default zeros). k is the triangle's mean edge length (the photo triangle's for FACE_EDGE).
    """

    parent: np.ndarray
    bary: np.ndarray
    offset: np.ndarray
    local_quat: np.ndarray
    local_scale: np.ndarray
    colors: np.ndarray
    opacities: np.ndarray
    binding: np.ndarray | None = None
    fade: np.ndarray | None = None
    local_pos: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.binding is None:
            self.binding = np.full(len(self), int(Binding.FACE), np.int8)
        if self.fade is None:
            self.fade = np.zeros(len(self), np.int8)
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
    """The builder's N Gaussians carried rigidly by a part of the head (`part`: a rigid `Binding`).

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
