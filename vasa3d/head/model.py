"""The head model: the face mesh fitted to one photo, a skull/hair shell, eyeballs, jaw hinge, neck pivot and the
skinning that turns the head on the neck while the torso stays in place.

All geometry is in metres in the head frame of DESIGN.md (origin between the ears, +x to the viewer's right,
+y up, +z out of the face). The model holds no image data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vasa3d.head import topology as topo
from vasa3d.head.rig import JAW_OPEN_MAX_RAD, ExpressionRig, build_rig, close_lips
from vasa3d.head.volume import HeadVolume, TorsoBody

NECK_PIVOT_OFFSET_M = (0.0, -0.055, -0.015)   # head rotations turn about this point (upper cervical spine)
NECK_BLEND_M = 0.07                           # skin weight falls from 1 to 0 over this height below the jaw line
EYEBALL_RADIUS_M = 0.0120
NECK_RADII_M = (0.055, 0.055)   # half-width and half-depth of the neck: a vertical elliptic cylinder ...
NECK_CENTRE_Z_M = -0.02         # ... whose axis is at this depth (and at the skull's x)
NECK_LENGTH_M = 0.075           # the completed neck reaches this far below the jaw line (into the collar)
TORSO_HALF_WIDTH_M = 0.2        # shoulders' half-width of a model built without a silhouette


@dataclass
class HeadModel:
    """A person's head at rest, with its expression rig.

    Attributes:
        face_rest: float32 [468, 3] face-mesh vertices of the neutral face (lips closed; metres, head frame).
        face_photo: float32 [468, 3] the face mesh as the photo shows it (the avatar's Gaussians are lifted on it).
        iris_rest: float32 [10, 3] the iris landmarks 468..477 (centre + 4 rim points per eye; right eye first).
        triangles: int32 [852, 3] face triangles wound so normals point out of the head.
        rig: the `ExpressionRig` on `face_rest`.
        shell_centre, shell_radii: float32 [3] each, the skull's ellipsoid.
        eye_centres: float32 [2, 3] eyeball centres (subject's right, left).
        neck_pivot: float32 [3] the point head rotations turn about.
        jaw_line_y: float32, head-frame height below which the neck begins (skinning).
        volume: the `HeadVolume` over skull and hair (shaped from the photo's silhouette by the avatar builder;
            the skull ellipsoid where none is given).
        torso: the `TorsoBody` below the neck (its width from the photo's silhouette; `TORSO_HALF_WIDTH_M`
            where none is given).
    """

    face_rest: np.ndarray
    face_photo: np.ndarray
    iris_rest: np.ndarray
    triangles: np.ndarray
    rig: ExpressionRig
    shell_centre: np.ndarray
    shell_radii: np.ndarray
    eye_centres: np.ndarray
    neck_pivot: np.ndarray
    jaw_line_y: float
    volume: HeadVolume | None = None
    torso: TorsoBody | None = None

    def __post_init__(self) -> None:
        if self.volume is None:
            self.volume = HeadVolume.from_ellipsoid(self.shell_centre, self.shell_radii)
        if self.torso is None:
            self.torso = TorsoBody.fitted(float(self.shell_centre[0]), np.float32([1, 0, 0]), TORSO_HALF_WIDTH_M)

    def skin_weights(self, points: np.ndarray) -> np.ndarray:
        """float32 [N] in [0, 1]: how much a point [N, 3] below the head follows head rotation (1 = head,
        0 = torso), falling linearly over `NECK_BLEND_M` below the jaw line."""
        return np.clip(1.0 - (self.jaw_line_y - points[:, 1]) / NECK_BLEND_M, 0.0, 1.0).astype(np.float32)

    def to_npz_dict(self, prefix: str = "head_") -> dict[str, np.ndarray]:
        """Flat dict of arrays for `np.savez` (see `from_npz_dict`)."""
        return {f"{prefix}face_rest": self.face_rest, f"{prefix}face_photo": self.face_photo, f"{prefix}iris_rest": self.iris_rest,
                f"{prefix}triangles": self.triangles, f"{prefix}rig_names": np.array(self.rig.names),
                f"{prefix}rig_deltas": self.rig.deltas, f"{prefix}rig_jaw_weights": self.rig.jaw_weights,
                f"{prefix}rig_jaw_hinge": self.rig.jaw_hinge,
                f"{prefix}rig_jaw_open_rad": np.float32(self.rig.jaw_open_rad), f"{prefix}shell_centre": self.shell_centre,
                f"{prefix}shell_radii": self.shell_radii, f"{prefix}eye_centres": self.eye_centres,
                f"{prefix}neck_pivot": self.neck_pivot, f"{prefix}jaw_line_y": np.float32(self.jaw_line_y),
                **self.volume.to_npz_dict(f"{prefix}volume_"), **self.torso.to_npz_dict(f"{prefix}torso_")}

    @classmethod
    def from_npz_dict(cls, d, prefix: str = "head_") -> "HeadModel":
        """Inverse of `to_npz_dict`; raises KeyError on a missing array (the volume is optional: models saved
        before it get the skull ellipsoid's, and the torso the default one)."""
        rig = ExpressionRig(names=tuple(str(n) for n in d[f"{prefix}rig_names"]), deltas=d[f"{prefix}rig_deltas"],
                            jaw_weights=d[f"{prefix}rig_jaw_weights"], jaw_hinge=d[f"{prefix}rig_jaw_hinge"],
                            jaw_open_rad=float(d.get(f"{prefix}rig_jaw_open_rad", JAW_OPEN_MAX_RAD)))
        return cls(face_rest=d[f"{prefix}face_rest"], face_photo=d[f"{prefix}face_photo"], iris_rest=d[f"{prefix}iris_rest"],
                   triangles=d[f"{prefix}triangles"], rig=rig, shell_centre=d[f"{prefix}shell_centre"],
                   shell_radii=d[f"{prefix}shell_radii"], eye_centres=d[f"{prefix}eye_centres"],
                   neck_pivot=d[f"{prefix}neck_pivot"], jaw_line_y=float(d[f"{prefix}jaw_line_y"]),
                   volume=HeadVolume.from_npz_dict(d, f"{prefix}volume_") if f"{prefix}volume_lateral" in d else None,
                   torso=TorsoBody.from_npz_dict(d, f"{prefix}torso_") if f"{prefix}torso_radii" in d else None)


def build_head(landmarks_head: np.ndarray) -> HeadModel:
    """Fit the head model to metric landmarks.

    Args:
        landmarks_head: float32 [478, 3] Face Mesh landmarks in metres in the head frame (e.g.
            `FaceObservation.landmarks_head`).
    Returns:
        A `HeadModel` whose face mesh passes exactly through the landmarks.
    Raises:
        ValueError: landmarks of the wrong shape.
    """
    lm = np.asarray(landmarks_head, dtype=np.float32)
    if lm.shape != (478, 3):
        raise ValueError(f"expected landmarks [478, 3], got {lm.shape}")
    photo = lm[:468].copy()
    tris = topo.orient_outward(topo.face_triangles(), photo, np.zeros(3, dtype=np.float32))
    face = close_lips(photo, tris)
    face_height = float(face[topo.FOREHEAD, 1] - face[topo.CHIN, 1])
    rig = build_rig(face, tris, head_centre_to_mouth_scale=face_height / 0.175)
    half_width = 0.5 * float(face[454, 0] - face[234, 0])
    shell_centre = np.array([0.0, 0.5 * (face[topo.FOREHEAD, 1] + face[topo.CHIN, 1]) + 0.03, -0.012], np.float32)
    shell_radii = np.array([1.08 * half_width, 0.62 * face_height, 0.105], np.float32)
    eye_centres = np.stack([_eye_centre(face, topo.EYE_RIGHT_UPPER + topo.EYE_RIGHT_LOWER),
                            _eye_centre(face, topo.EYE_LEFT_UPPER + topo.EYE_LEFT_LOWER)])
    return HeadModel(face_rest=face, face_photo=photo, iris_rest=lm[468:].copy(), triangles=tris, rig=rig,
                     shell_centre=shell_centre, shell_radii=shell_radii, eye_centres=eye_centres.astype(np.float32),
                     neck_pivot=np.asarray(NECK_PIVOT_OFFSET_M, np.float32),
                     jaw_line_y=float(face[topo.CHIN, 1]) + 0.01)


def _eye_centre(face: np.ndarray, contour) -> np.ndarray:
    """Eyeball centre: behind the eye-opening centroid by 1.2 radii, so the closed lids (on the contour) cover it."""
    c = face[list(contour)].mean(axis=0)
    return c - np.array([0.0, 0.0, 1.2 * EYEBALL_RADIUS_M], np.float32)
