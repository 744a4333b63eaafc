"""`Avatar`: a person's Gaussian head built from one photo, with its head model, camera and background plate.

Saved as one `.npz` (arrays + a JSON header with the format version); exported as a standard 3DGS `.ply`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from vasa3d.avatar.build import build_gaussians
from vasa3d.avatar.pose import FramePose, GaussianFrame, pose_gaussians
from vasa3d.avatar.types import BoundGaussians, RigidGaussians
from vasa3d.config import AvatarConfig, FaceConfig
from vasa3d.errors import InputError
from vasa3d.head.model import HeadModel, build_head

FORMAT_VERSION = 1
MAX_OPACITY = 0.99   # below gsplat's 0.999 alpha clamp: a splat centred on a pixel then never trips the T < 1e-4 stop
                     # and leaves the pixel 10% transparent (dense pixel-aligned splats hit that rule everywhere)


@dataclass
class Avatar:
    """A talking-head avatar.

    Attributes:
        head: the `HeadModel` (mesh, rig, skull, eyes, neck), metres, head frame.
        face: Gaussians bound to face triangles; rigid: Gaussians carried by skull, jaw, eyes and body.
        K: float32 [3, 3] intrinsics of the photo's square crop (pixels at `size`).
        T_cam_from_head: float32 [4, 4] the photo's camera (world = head frame at rest -> OpenCV camera).
        background: float32 [size, size, 3] the photo with the person removed (inpainted), RGB in [0, 1].
        size: side of the crop in pixels.
    """

    head: HeadModel
    face: BoundGaussians
    rigid: RigidGaussians
    K: np.ndarray
    T_cam_from_head: np.ndarray
    background: np.ndarray
    size: int

    def __post_init__(self) -> None:
        self._colors = np.concatenate([self.face.colors, self.rigid.colors]).astype(np.float32)
        opacities = np.concatenate([self.face.opacities, self.rigid.opacities]).astype(np.float32)
        self._opacities = np.minimum(opacities, MAX_OPACITY)

    @property
    def num_gaussians(self) -> int:
        """Total number of Gaussians."""
        return len(self.face) + len(self.rigid)

    @classmethod
    def from_image(cls, source, face_config: FaceConfig = FaceConfig(),
                   avatar_config: AvatarConfig = AvatarConfig()) -> "Avatar":
        """Build an avatar from a portrait.

        Args:
            source: a path (JPEG/PNG/WebP/...), a PIL image, or an RGB array (uint8 or float in [0, 1]).
        Raises:
            InputError: unreadable image, no face, or a face too small.
        """
        from vasa3d.face import analyze_face
        from vasa3d.io.image import read_image

        obs = analyze_face(read_image(source), face_config)
        head = build_head(obs.landmarks_head)
        face, rigid = build_gaussians(obs, head, avatar_config)
        return cls(head=head, face=face, rigid=rigid, K=obs.K, T_cam_from_head=obs.T_cam_from_head,
                   background=inpaint_background(obs.image, obs.mask), size=obs.size)

    def pose(self, pose: FramePose) -> GaussianFrame:
        """The Gaussians of one frame (see `vasa3d.avatar.pose.pose_gaussians`)."""
        return pose_gaussians(self.head, self.face, self.rigid, pose, self._colors, self._opacities)

    def rest(self) -> GaussianFrame:
        """The Gaussians at rest (neutral expression, head still)."""
        return self.pose(FramePose(names=(), coeffs=np.zeros(0, np.float32), head_rotation=np.zeros(3),
                                   head_translation=np.zeros(3), gaze=np.zeros(2)))

    def save(self, path: str | Path) -> Path:
        """Write the avatar to `path` (.npz), atomically."""
        from vasa3d.io.atomic import atomic_path

        arrays = {"header": np.array(json.dumps({"format": "vasa3d-avatar", "version": FORMAT_VERSION,
                                                 "size": self.size}))}
        arrays.update(self.head.to_npz_dict())
        arrays.update({f"face_{f.name}": getattr(self.face, f.name) for f in fields(BoundGaussians)})
        arrays.update({f"rigid_{f.name}": getattr(self.rigid, f.name) for f in fields(RigidGaussians)})
        arrays.update(K=self.K, T_cam_from_head=self.T_cam_from_head, background=self.background.astype(np.float16))
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Avatar":
        """Read an avatar written by `save`; InputError if the file is missing or not an avatar."""
        try:
            with np.load(path, allow_pickle=False) as d:
                header = json.loads(str(d["header"]))
                if header.get("format") != "vasa3d-avatar" or header.get("version") != FORMAT_VERSION:
                    raise InputError(f"'{path}' is not a vasa3d avatar of format version {FORMAT_VERSION}")
                data = {k: d[k] for k in d.files}
        except (OSError, ValueError, KeyError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"could not read avatar '{path}': {exc}; build one with `vasa3d build`") from exc
        face = BoundGaussians(**{f.name: data[f"face_{f.name}"] for f in fields(BoundGaussians)
                                 if f"face_{f.name}" in data or f.default is not None})
        rigid = RigidGaussians(**{f.name: data[f"rigid_{f.name}"] for f in fields(RigidGaussians)})
        return cls(head=HeadModel.from_npz_dict(data), face=face, rigid=rigid, K=data["K"],
                   T_cam_from_head=data["T_cam_from_head"], background=data["background"].astype(np.float32),
                   size=int(header["size"]))

    def to_ply(self, path: str | Path) -> Path:
        """Export the rest pose as a standard 3DGS .ply (x, y, z, f_dc_0..2, opacity (logit), scale_0..2 (log),
        rot_0..3 (wxyz)), viewable in any 3DGS viewer and in Gradio's Model3D. Written atomically."""
        from vasa3d.avatar.ply import write_3dgs_ply

        g = self.rest()
        return write_3dgs_ply(path, g.means, g.quats, g.scales, g.opacities, g.colors)


def inpaint_background(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The photo with the person removed: float32 [S, S, 3].

    Args:
        image: float32 [S, S, 3] RGB in [0, 1]; mask: float32 [S, S] person probability.
    Method: Telea inpainting (OpenCV) of the dilated person mask at quarter resolution, upsampled, so the plate
    behind a moving head is a smooth continuation of the surrounding background.
    """
    import cv2

    S = image.shape[0]
    small = max(32, S // 4)
    img_s = cv2.resize((image * 255).astype(np.uint8), (small, small), interpolation=cv2.INTER_AREA)
    hole = cv2.resize((mask > 0.15).astype(np.uint8), (small, small), interpolation=cv2.INTER_NEAREST)
    hole = cv2.dilate(hole, np.ones((5, 5), np.uint8))
    filled = cv2.inpaint(img_s, hole, 5, cv2.INPAINT_TELEA)
    filled = cv2.GaussianBlur(filled, (0, 0), 1.5)
    up = cv2.resize(filled, (S, S), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255.0
    keep = cv2.resize(hole.astype(np.float32), (S, S), interpolation=cv2.INTER_LINEAR)
    keep = np.clip(cv2.GaussianBlur(keep, (0, 0), 2.0) * 1.5, 0, 1)[..., None]
    return (image * (1 - keep) + up * keep).astype(np.float32)
