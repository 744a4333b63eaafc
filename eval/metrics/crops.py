"""Face crops for the image-quality metrics (LPIPS, PSNR, SSIM against the ground-truth video).

1. Framing: a method may render another framing than the real video (vasa3d renders a square head crop). One 2D
   similarity transform (Umeyama 1991) maps the method's frame to the real video's frame: it is fitted, once per
   video, between the tracker's 468 face landmarks in the first frame where both videos have a face (at the start
   both show the portrait, which is the real video's first frame). It corrects framing only, never per-frame pose.
   When its entries are within `IDENTITY_TOL` of the identity's (the ground truth against itself) no resampling happens.
2. Crop: for every frame t shown in both videos where the real frame has a face, a square box centred on the real
   frame's 468 landmarks with side `CROP_SCALE` x the larger side of their bounding box; both frames are resampled
   (bilinear, black outside the image) to `CROP_PX` x `CROP_PX` through that box.
"""

from __future__ import annotations

import numpy as np

from eval.tracking import Track, procrustes

CROP_PX = 224
CROP_SCALE = 1.2
IDENTITY_TOL = 1e-6


def register(method: Track, truth: Track) -> np.ndarray | None:
    """float64 [2, 3] affine (similarity) from method-frame pixels to real-frame pixels, or None when no frame has a
    face in both videos."""
    both = np.flatnonzero(method.found[:truth.num_frames] & truth.found[:method.num_frames])
    if len(both) == 0:
        return None
    t = int(both[0])
    s, R, tr = procrustes(method.landmarks[t, :468, :2], truth.landmarks[t, :468, :2])
    return np.hstack([s * R, tr[:, None]])


def face_box_affine(landmarks: np.ndarray) -> np.ndarray:
    """[2, 3] affine from real-frame pixels to crop pixels for the box around landmarks [478, 3]."""
    xy = landmarks[:468, :2].astype(np.float64)
    lo, hi = xy.min(0), xy.max(0)
    centre, side = 0.5 * (lo + hi), CROP_SCALE * float((hi - lo).max())
    k = CROP_PX / side
    return np.array([[k, 0, CROP_PX / 2 - k * centre[0]], [0, k, CROP_PX / 2 - k * centre[1]]])


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Affine a after b (both [2, 3])."""
    A = np.vstack([a, [0, 0, 1]])
    B = np.vstack([b, [0, 0, 1]])
    return (A @ B)[:2]


def _to_pixel_centres(m: np.ndarray) -> np.ndarray:
    """Convert an affine between continuous coordinates (pixel i spans [i, i+1]) to OpenCV's (pixel centre at i)."""
    shift = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    unshift = np.array([[1, 0, -0.5], [0, 1, -0.5], [0, 0, 1]])
    return (unshift @ np.vstack([m, [0, 0, 1]]) @ shift)[:2]


def face_crops(truth_frames: np.ndarray, truth: Track, method_frames: np.ndarray, to_truth: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Matching face crops (uint8 [N, CROP_PX, CROP_PX, 3] each: real, method) for the frames shown in both
    videos where the real frame has a face. `to_truth` comes from `register`."""
    import cv2

    identity = bool(np.abs(to_truth - np.array([[1.0, 0, 0], [0, 1, 0]])).max() < IDENTITY_TOL)
    real, fake = [], []
    for t in range(min(len(truth_frames), len(method_frames))):
        if not truth.found[t]:
            continue
        box = face_box_affine(truth.landmarks[t])
        m_real = _to_pixel_centres(box)
        m_fake = m_real if identity else _to_pixel_centres(_compose(box, to_truth))
        kw = dict(flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        real.append(cv2.warpAffine(truth_frames[t], m_real, (CROP_PX, CROP_PX), **kw))
        fake.append(cv2.warpAffine(method_frames[t], m_fake, (CROP_PX, CROP_PX), **kw))
    empty = np.zeros((0, CROP_PX, CROP_PX, 3), np.uint8)
    return (np.stack(real), np.stack(fake)) if real else (empty, empty)
