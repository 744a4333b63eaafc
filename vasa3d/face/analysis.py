"""Face analysis of one portrait: detection, square head crop, 478 landmarks, person mask, camera and head pose.

Method: MediaPipe 0.10.21 legacy solutions (BlazeFace full-range detector, Face Mesh with attention/iris refinement,
Selfie Segmentation; Kartynnik et al. 2019, Grishchenko et al. 2020), all with weights inside the wheel. The crop is
framed from the landmarks' face oval (two passes: detector box, then landmarks) so every portrait is framed alike,
then kept inside the photo (moved, or shrunk where the photo is narrower), so no output view shows a smeared border.
Metric 3D: Face Mesh returns (x, y) in the image and a relative depth z in x's scale whose origin is the head centre's
depth; the interpupillary distance (mean adult 63 mm) fixes the metric scale, an assumed field of view fixes the focal
length, and every landmark is lifted along its own camera ray, so the 3D landmarks reproject exactly onto the photo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vasa3d.config import FaceConfig
from vasa3d.errors import InputError

NUM_LANDMARKS = 478            # 468 face-mesh points + 10 iris points (refine_landmarks=True)
NUM_FACE_VERTICES = 468
IRIS_CENTER_RIGHT = 468        # subject's right eye (image left)
IRIS_CENTER_LEFT = 473
EYE_OUTER_RIGHT = 33
EYE_OUTER_LEFT = 263
FOREHEAD = 10
CHIN = 152
EAR_SIDE_RIGHT = 234           # outermost face-oval points at about tragus height
EAR_SIDE_LEFT = 454
CROP_INSET = 0.005             # the crop stays this share of the photo's shorter side inside its edges
EAR_TO_HEAD_CENTRE_M = 0.015   # head centre (between the ear canals) lies this far behind points 234/454


@dataclass
class FaceObservation:
    """What one portrait tells about the face, in the square working crop.

    Attributes:
        image: float32 [S, S, 3] RGB in [0, 1], the square head crop at the working resolution S.
        mask: float32 [S, S] in [0, 1], person (foreground) probability from Selfie Segmentation.
        landmarks_px: float32 [478, 2], Face Mesh landmarks in crop pixels (x right, y down; pixel centres at +0.5).
        landmarks_cam: float32 [478, 3], the same landmarks in metres in the OpenCV camera frame of the crop.
        K: float32 [3, 3], pinhole intrinsics of the crop in pixels.
        T_cam_from_head: float32 [4, 4], maps head-frame points (metres; origin between the ears, +x viewer's
            right, +y up, +z out of the face) to the camera frame.
        crop_box: (x0, y0, side) of the crop in source-image pixels, inside the image (`inside_photo`).
        source_size: (height, width) of the source image.
    """

    image: np.ndarray
    mask: np.ndarray
    landmarks_px: np.ndarray
    landmarks_cam: np.ndarray
    K: np.ndarray
    T_cam_from_head: np.ndarray
    crop_box: tuple[float, float, float]
    source_size: tuple[int, int]

    @property
    def size(self) -> int:
        """Side S of the working crop in pixels."""
        return int(self.image.shape[0])

    @property
    def landmarks_head(self) -> np.ndarray:
        """float32 [478, 3]: the landmarks in metres in the head frame."""
        T_head_from_cam = np.linalg.inv(self.T_cam_from_head.astype(np.float64))
        pts = self.landmarks_cam.astype(np.float64) @ T_head_from_cam[:3, :3].T + T_head_from_cam[:3, 3]
        return pts.astype(np.float32)


def analyze_face(image: np.ndarray, config: FaceConfig = FaceConfig()) -> FaceObservation:
    """Find the largest face in `image` and describe it in a square working crop.

    Args:
        image: float32 [H, W, 3] RGB in [0, 1] (as from `vasa3d.io.read_image`).
        config: crop framing, minimum face size, field of view and metric scale.

    Returns:
        A `FaceObservation` at `config.work_size` pixels.

    Raises:
        InputError: no face found, or the face is smaller than `config.min_face_px` pixels.
    """
    image = _check_image(image)
    box = _detect_largest_face(image, config)
    if max(box[2], box[3]) < config.min_face_px:
        raise InputError(f"the face in this photo is too small ({max(box[2], box[3]):.0f} px); "
                         f"use a photo where the face is at least {config.min_face_px} px wide")
    side = config.crop_scale * max(box[2], box[3])
    crop_box = (box[0] + box[2] / 2 - side / 2, box[1] + box[3] / 2 - side / 2 - config.crop_shift_up * side, side)
    lm_src = _landmarks_in_source(image, crop_box, config)
    crop_box = inside_photo(_frame_from_landmarks(lm_src, config), image.shape[:2])
    crop = _crop_square(image, crop_box, config.work_size)
    lm = _face_mesh(crop)
    if lm is None:
        raise InputError("no face was found in the photo (the face tracker lost it after cropping); "
                         "use a clear, well-lit photo of one face looking roughly at the camera")
    mask = _person_mask(crop)
    landmarks_px, landmarks_cam, K = _lift_landmarks(lm, config)
    T_cam_from_head = _head_pose(landmarks_cam)
    return FaceObservation(image=crop, mask=mask, landmarks_px=landmarks_px, landmarks_cam=landmarks_cam, K=K,
                           T_cam_from_head=T_cam_from_head, crop_box=crop_box, source_size=image.shape[:2])


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise InputError("expected an RGB image array [H, W, 3]; read the file with vasa3d.io.read_image")
    return np.ascontiguousarray(image, dtype=np.float32)


def _to_u8(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8))


def _detect_largest_face(image: np.ndarray, config: FaceConfig) -> tuple[float, float, float, float]:
    """(x, y, w, h) in source pixels of the largest detected face; InputError if none."""
    import mediapipe as mp

    h, w = image.shape[:2]
    u8 = _to_u8(image)
    best = None
    for model_selection in (1, 0):   # full range first (small faces), then short range (close-ups)
        with mp.solutions.face_detection.FaceDetection(
                model_selection=model_selection, min_detection_confidence=config.min_detection_confidence) as det:
            result = det.process(u8)
        for d in result.detections or []:
            bb = d.location_data.relative_bounding_box
            cand = (bb.xmin * w, bb.ymin * h, bb.width * w, bb.height * h)
            if best is None or cand[2] * cand[3] > best[2] * best[3]:
                best = cand
        if best is not None:
            return best
    raise InputError("no face was found in the photo; use a clear, well-lit photo of one face "
                     "looking roughly at the camera")


def _landmarks_in_source(image: np.ndarray, crop_box: tuple[float, float, float], config: FaceConfig) -> np.ndarray:
    """Face Mesh landmarks [478, 3] (x, y in source pixels; z in pixel scale) from a provisional crop."""
    size = config.work_size
    crop = _crop_square(image, crop_box, size)
    lm = _face_mesh(crop)
    if lm is None:
        raise InputError("a face was detected but its landmarks could not be found; use a sharper photo "
                         "with the whole face visible and roughly frontal")
    scale = crop_box[2] / size
    out = lm * scale
    out[:, 0] += crop_box[0]
    out[:, 1] += crop_box[1]
    return out


def _frame_from_landmarks(lm_src: np.ndarray, config: FaceConfig) -> tuple[float, float, float]:
    """Square crop (x0, y0, side) framed on the face: side from the forehead-chin distance and face width."""
    face_h = float(np.linalg.norm(lm_src[CHIN, :2] - lm_src[FOREHEAD, :2]))
    face_w = float(np.linalg.norm(lm_src[EAR_SIDE_LEFT, :2] - lm_src[EAR_SIDE_RIGHT, :2]))
    extent = max(face_h, 1.15 * face_w)
    side = config.crop_scale * extent
    cx = 0.5 * (lm_src[EAR_SIDE_LEFT, 0] + lm_src[EAR_SIDE_RIGHT, 0])
    cy = 0.5 * (lm_src[CHIN, 1] + lm_src[FOREHEAD, 1]) - config.crop_shift_up * side
    return (cx - side / 2, cy - side / 2, side)


def inside_photo(crop_box: tuple[float, float, float], shape: tuple[int, int]) -> tuple[float, float, float]:
    """The square crop (x0, y0, side) in source pixels moved, and shrunk if the photo is narrower than it, so that
    it lies inside a photo of `shape` (height, width): the output view then never shows what the photo does not
    contain (no smeared border); the head may sit off-centre, near the frame's edge, which the camera (K,
    T_cam_from_head) describes exactly. A shrunk crop keeps its centre where the photo allows."""
    x0, y0, side = crop_box
    H, W = shape
    m = CROP_INSET * min(H, W)
    new = min(side, H - 2 * m, W - 2 * m)
    cx, cy = x0 + side / 2, y0 + side / 2
    x0 = min(max(cx - new / 2, m), W - m - new)
    y0 = min(max(cy - new / 2, m), H - m - new)
    return (x0, y0, new)


def _prefilter_sigma(s: float) -> float:
    """Gaussian sigma (source pixels) that anti-aliases a shrink by the factor `s` < 1: the blur the source lacks
    for a footprint of half an output pixel, 0.5 sqrt(1 / s^2 - 1) (each source pixel already integrates half a
    pixel's width), so a crop at about its own size is not blurred. The former 0.5 / s blurred a crop taken at
    0.9996 of its size by half a pixel, and the bilinear resampling that followed (warpAffine ignores INTER_AREA)
    blurred it again: a video fitted on such crops came out soft (GRID held out, LPIPS 0.068)."""
    return 0.5 * float(np.sqrt(max(1.0 / (s * s) - 1.0, 0.0))) + 1e-3


def _crop_square(image: np.ndarray, crop_box: tuple[float, float, float], size: int) -> np.ndarray:
    """Resample the square `crop_box` of `image` to [size, size, 3] (edge-replicated outside the image)."""
    import cv2

    x0, y0, side = crop_box
    s = size / side
    M = np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]], dtype=np.float64)
    if s < 1.0:  # warpAffine has no area filter: blur first to avoid aliasing when shrinking
        image = cv2.GaussianBlur(image, (0, 0), _prefilter_sigma(s))
    out = cv2.warpAffine(image, M, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.warpAffine(np.ones(image.shape[:2], np.float32), M, (size, size), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    if inside.min() < 1.0:   # past the photo's edge: a soft blur of the edge colours instead of streaks
        soft = cv2.GaussianBlur(out, (0, 0), size / 24.0)
        out = inside[..., None] * out + (1.0 - inside[..., None]) * soft
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _face_mesh(crop: np.ndarray) -> np.ndarray | None:
    """Face Mesh on a crop: float32 [478, 3] (x, y in crop pixels, z in the same pixel scale) or None."""
    import mediapipe as mp

    size = crop.shape[1]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1,
                                         min_detection_confidence=0.3) as fm:
        result = fm.process(_to_u8(crop))
    if not result.multi_face_landmarks:
        return None
    lm = result.multi_face_landmarks[0].landmark
    return np.array([[p.x * size, p.y * crop.shape[0], p.z * size] for p in lm], dtype=np.float32)


def _person_mask(crop: np.ndarray) -> np.ndarray:
    """Selfie Segmentation person probability, float32 [S, S] in [0, 1]."""
    import mediapipe as mp

    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
        result = seg.process(_to_u8(crop))
    return np.clip(result.segmentation_mask, 0.0, 1.0).astype(np.float32)


def _lift_landmarks(lm: np.ndarray, config: FaceConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lift Face Mesh landmarks to metres along their camera rays.

    Returns (landmarks_px [478, 2], landmarks_cam [478, 3], K [3, 3]); the metric scale comes from the
    interpupillary distance and the depth of the head centre from the focal length.
    """
    size = config.work_size
    focal_px = 0.5 * size / math.tan(math.radians(config.fov_deg) / 2.0)
    K = np.array([[focal_px, 0, size / 2], [0, focal_px, size / 2], [0, 0, 1]], dtype=np.float64)
    ipd_px = float(np.linalg.norm(lm[IRIS_CENTER_LEFT] - lm[IRIS_CENTER_RIGHT]))
    metres_per_px = config.interpupillary_m / max(ipd_px, 1e-6)
    z_centre = focal_px * metres_per_px           # depth of the head centre (Face Mesh's z origin)
    z = z_centre + lm[:, 2].astype(np.float64) * metres_per_px
    x = (lm[:, 0] - K[0, 2]) * z / focal_px
    y = (lm[:, 1] - K[1, 2]) * z / focal_px
    cam = np.stack([x, y, z], axis=1)
    return lm[:, :2].astype(np.float32), cam.astype(np.float32), K.astype(np.float32)


def _head_pose(landmarks_cam: np.ndarray) -> np.ndarray:
    """T_cam_from_head [4, 4] from the metric landmarks: axes from the eye corners (x) and chin-to-forehead (y),
    origin between the ears (see module docstring)."""
    p = landmarks_cam.astype(np.float64)
    x_axis = p[EYE_OUTER_LEFT] - p[EYE_OUTER_RIGHT]
    y_axis = p[FOREHEAD] - p[CHIN]
    x_axis /= np.linalg.norm(x_axis)
    y_axis -= x_axis * (y_axis @ x_axis)
    y_axis /= np.linalg.norm(y_axis)
    z_axis = np.cross(x_axis, y_axis)
    R = np.stack([x_axis, y_axis, z_axis], axis=1)    # columns: head axes in camera coordinates
    centre = 0.5 * (p[EAR_SIDE_LEFT] + p[EAR_SIDE_RIGHT]) - EAR_TO_HEAD_CENTRE_M * z_axis
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = centre
    return T.astype(np.float32)
