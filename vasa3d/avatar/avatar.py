"""`Avatar`: a person's Gaussian head built from one photo, with its head model, camera and background plate.

Saved as one `.npz` (arrays + a JSON header with the format version and the configs it was built with, as nanoGPT
keeps its config in the checkpoint); loaded strictly (`vasa3d.avatar.load`); exported as a standard 3DGS `.ply`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from vasa3d.avatar.build import build_gaussians
from vasa3d.avatar.pose import FramePose, GaussianFrame, pose as pose_gaussians
from vasa3d.avatar.silhouette import head_volume, torso_body
from vasa3d.avatar.types import GaussianParams
from vasa3d.config import AvatarConfig, FaceConfig
from vasa3d.head.model import HeadModel, build_head

FORMAT_VERSION = 2       # 2: one flat set of Gaussians with bindings, the configs in the header; 1: face + rigid groups
ARRAY_PREFIX = "gauss_"


@dataclass
class Avatar:
    """A talking-head avatar.

    Attributes:
        head: the `HeadModel` (mesh, rig, skull, eyes, neck), metres, head frame.
        params: the Gaussians, one flat set with a binding each (`GaussianParams`); edits show up in the next pose.
        K: float32 [3, 3] intrinsics of the photo's square crop (pixels at `size`).
        T_cam_from_head: float32 [4, 4] the photo's camera (world = head frame at rest -> OpenCV camera).
        background: float32 [size, size, 3] the photo with the person removed (inpainted), RGB in [0, 1].
        size: side of the crop in pixels.
        config: the configs it was built with, as plain data ({"face": {...}, "avatar": {...}}), saved with it.
        speech_model: the person's own speech -> mouth model (`vasa3d.motion.personal.PersonalSpeechModel`),
            learned by `vasa3d fit` from a video's audio and tracked motion; None for a photo-built avatar.
    """

    head: HeadModel
    params: GaussianParams
    K: np.ndarray
    T_cam_from_head: np.ndarray
    background: np.ndarray
    size: int
    config: dict = field(default_factory=dict)
    speech_model: object | None = None

    @property
    def num_gaussians(self) -> int:
        """Total number of Gaussians."""
        return len(self.params)

    @classmethod
    def from_observation(cls, obs, avatar_config: AvatarConfig = AvatarConfig(),
                         face_config: FaceConfig | None = None) -> "Avatar":
        """Build an avatar from a `FaceObservation` of a portrait (the single-photo builder).

        `face_config`, when given, is recorded with the avatar (the config the observation was made with).
        """
        head = build_head(obs.landmarks_head)
        head.volume = head_volume(obs, head)           # the skull and hair volume shaped from the person's outline
        head.torso = torso_body(obs, head)             # ... and the shoulders' width
        face, rigid = build_gaussians(obs, head, avatar_config)
        config = {"avatar": asdict(avatar_config)}
        if face_config is not None:
            config["face"] = asdict(face_config)
        return cls(head=head, params=GaussianParams.from_parts(face, rigid), K=obs.K,
                   T_cam_from_head=obs.T_cam_from_head, background=inpaint_background(obs.image, obs.mask),
                   size=obs.size, config=config)

    @classmethod
    def from_image(cls, source, face_config: FaceConfig = FaceConfig(),
                   avatar_config: AvatarConfig = AvatarConfig()) -> "Avatar":
        """Build an avatar from a portrait: `vasa3d.pipeline.build_avatar` (face analysis, then
        `from_observation`); kept here as the documented entry point.

        Args:
            source: a path (JPEG/PNG/WebP/...), a PIL image, or an RGB array (uint8 or float in [0, 1]).
        Raises:
            InputError: unreadable image, no face, or a face too small.
        """
        from vasa3d.pipeline import build_avatar

        return build_avatar(source, face_config, avatar_config)

    def pose(self, pose: FramePose) -> GaussianFrame:
        """The Gaussians of one frame as NumPy arrays (see `vasa3d.avatar.pose.pose`; computed on the CPU)."""
        import torch

        with torch.no_grad():
            return pose_gaussians(self, pose, "cpu").numpy()

    def rest(self) -> GaussianFrame:
        """The Gaussians at rest (neutral expression, head still)."""
        return self.pose(FramePose(names=(), coeffs=np.zeros(0, np.float32), head_rotation=np.zeros(3),
                                   head_translation=np.zeros(3), gaze=np.zeros(2)))

    def save(self, path: str | Path) -> Path:
        """Write the avatar to `path` (.npz), atomically: the arrays, and a JSON header with the format version,
        the crop size, the number of Gaussians and the configs it was built with; a speech model's arrays
        (`speech_*`, with its summary in the header) when it has one."""
        from vasa3d.io.atomic import atomic_path

        self.params.validate()
        header = {"format": "vasa3d-avatar", "version": FORMAT_VERSION, "size": self.size,
                  "num_gaussians": self.num_gaussians, "config": self.config}
        if self.speech_model is not None:
            header["speech_model"] = self.speech_model.summary()
        arrays = {"header": np.array(json.dumps(header))}
        arrays.update(self.head.to_npz_dict())
        arrays.update({ARRAY_PREFIX + f.name: getattr(self.params, f.name) for f in fields(GaussianParams)})
        arrays.update(K=self.K, T_cam_from_head=self.T_cam_from_head, background=self.background.astype(np.float16))
        if self.speech_model is not None:
            arrays.update(self.speech_model.to_npz_dict())
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Avatar":
        """Read an avatar written by `save` (format 2, or format 1 of earlier versions), strictly.

        Raises:
            InputError: the file is missing, unreadable, not a vasa3d avatar, of another format version, or lacks
                an array or has one of the wrong shape or type (naming it), its speech model included.
        """
        from vasa3d.avatar.load import read_avatar_file

        return read_avatar_file(cls, path)

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
