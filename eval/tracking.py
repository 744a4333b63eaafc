"""The evaluation's own face tracker: MediaPipe Face Mesh on every frame of a video.

Independent of the face analysis inside vasa3d (which sees only the portrait): here the legacy solution
`mp.solutions.face_mesh.FaceMesh(static_image_mode=False, refine_landmarks=True, max_num_faces=1)` tracks
478 landmarks through the video (Kartynnik et al. 2019, "Real-time facial surface geometry from monocular video
on mobile GPUs"; weights inside the mediapipe 0.10.21 wheel).

Landmark indices used by the metrics (MediaPipe canonical face mesh):
- `INNER_LIP_UPPER = 13`, `INNER_LIP_LOWER = 14` (mouth opening), `FOREHEAD = 10`, `CHIN = 152` (face height),
- `EYE_OUTER_RIGHT = 33`, `EYE_OUTER_LEFT = 263` (interocular distance),
- `RIGID`: points that move only with the skull (eye corners, nose bridge and ridge, forehead midline, temples).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_LANDMARKS = 478
INNER_LIP_UPPER = 13
INNER_LIP_LOWER = 14
FOREHEAD = 10
CHIN = 152
EYE_OUTER_RIGHT = 33
EYE_OUTER_LEFT = 263
RIGID = (33, 133, 362, 263,            # eye corners (outer, inner; right then left)
         168, 6, 197, 195, 5,           # nose bridge and ridge
         10, 151, 9, 8,                 # forehead midline to between the brows
         127, 356, 234, 454)            # temples / face sides at ear height
"""Landmarks on the skull that speech, blinks and brows barely move (used to remove head pose)."""


@dataclass
class Track:
    """Face-mesh landmarks of a video.

    Attributes:
        landmarks: float32 [T, 478, 3]: x, y in pixels of the frame (x right, y down), z relative depth in the
            scale of x (MediaPipe's convention); NaN in frames where no face was found.
        found: bool [T], a face was found in the frame.
        fps: frames per second of the video.
        size: (height, width) of the frames in pixels.
    """

    landmarks: np.ndarray
    found: np.ndarray
    fps: float
    size: tuple[int, int]

    @property
    def num_frames(self) -> int:
        """T."""
        return int(self.found.shape[0])

    def point(self, index: int) -> np.ndarray:
        """float32 [T, 3] trajectory of one landmark (NaN where not found)."""
        return self.landmarks[:, index, :]


def track_video(frames: np.ndarray, fps: float) -> Track:
    """Track one face through `frames` uint8 [T, H, W, 3] RGB with MediaPipe Face Mesh (video mode).

    Returns a `Track`. Frames without a face get NaN landmarks; nothing raises for a video with no face.
    """
    import mediapipe as mp

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames [T, H, W, 3], got {frames.shape}")
    T, H, W = frames.shape[:3]
    out = np.full((T, NUM_LANDMARKS, 3), np.nan, np.float32)
    found = np.zeros(T, bool)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True,
                                         min_detection_confidence=0.5, min_tracking_confidence=0.5) as mesh:
        for t in range(T):
            res = mesh.process(np.ascontiguousarray(frames[t], dtype=np.uint8))
            if not res.multi_face_landmarks:
                continue
            lm = res.multi_face_landmarks[0].landmark
            xyz = np.array([(p.x, p.y, p.z) for p in lm], np.float32)
            out[t] = xyz * np.array([W, H, W], np.float32)
            found[t] = True
    return Track(landmarks=out, found=found, fps=float(fps), size=(int(H), int(W)))


def track_image(image: np.ndarray) -> np.ndarray | None:
    """Landmarks float32 [478, 3] (pixels, as in `Track`) of one uint8 RGB image [H, W, 3], or None if no face."""
    import mediapipe as mp

    H, W = image.shape[:2]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                                         min_detection_confidence=0.5) as mesh:
        res = mesh.process(np.ascontiguousarray(image, dtype=np.uint8))
    if not res.multi_face_landmarks:
        return None
    xyz = np.array([(p.x, p.y, p.z) for p in res.multi_face_landmarks[0].landmark], np.float32)
    return xyz * np.array([W, H, W], np.float32)


def interocular(landmarks: np.ndarray) -> np.ndarray:
    """Distance between the outer eye corners (33, 263) in the image plane; [..., 478, 3] -> [...] pixels."""
    d = landmarks[..., EYE_OUTER_RIGHT, :2] - landmarks[..., EYE_OUTER_LEFT, :2]
    return np.linalg.norm(d, axis=-1)


def procrustes(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (s, R, t) minimising ||s R src_i + t - dst_i||^2 (Umeyama 1991), for points [N, D], D = 2 or 3.

    Returns scale s, rotation R [D, D] (det +1) and translation t [D], all float64.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    a, b = src - mu_s, dst - mu_d
    U, S, Vt = np.linalg.svd(b.T @ a / len(src))
    d = np.ones(src.shape[1])
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        d[-1] = -1.0
    R = U @ np.diag(d) @ Vt
    var = (a ** 2).sum() / len(src)
    s = float((S * d).sum() / var) if var > 0 else 1.0
    return s, R, mu_d - s * R @ mu_s
