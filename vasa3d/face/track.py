"""Tracking a talking face through a video or a set of photos: per frame, MediaPipe Face Mesh landmarks in a fixed
square crop, then the head pose and the ARKit rig coefficients solved against the person's head model.

Method (after the monocular trackers of GaussianHeadTalk and GaussianAvatars, with our rig in place of FLAME):
the head model is built once from a reference frame (identity shared by every frame); for each frame, the head
rotation (axis-angle about the neck pivot), translation and rig coefficients in [0, 1] minimise a robust (Huber)
reprojection error of the 468 face-mesh vertices against the landmarks, with a small L1 prior on the coefficients,
jointly over all frames with L-BFGS in PyTorch (batched, restarted). Video gets a light temporal smoothing of the
head pose (a Savitzky-Golay filter); the coefficients are left unsmoothed, so fast mouth motion is not lagged.

Frames: the reference frame's camera (`FaceObservation.K`, `T_cam_from_head`) is every frame's camera; head poses
are relative to the head frame at rest (as `MotionSequence` and `FramePose` define them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vasa3d.config import FaceConfig
from vasa3d.errors import InputError

TRACK_STEPS = 100               # L-BFGS iterations per round of the joint solve (the frames are independent)
TRACK_ROUNDS = 3                # rounds (restarts) of L-BFGS
HUBER_PX = 2.0                  # reprojection errors beyond this many pixels count linearly
COEFF_L1 = 0.02                 # L1 prior on the coefficients (pixels^2 per unit coefficient)
TRANSLATION_SCALE = 0.1         # the solver's translation unit: 10 cm (variables of similar size)
LIP_WEIGHT = 4.0                # inner-lip landmarks weigh this much more (mouth shapes live there)
EYE_WEIGHT = 2.0                # ... lid landmarks this much
POSE_SMOOTH_FRAMES = 7          # Savitzky-Golay window of the head pose (video only; odd); coefficients are not
                                # smoothed (a closure lasts 2-3 frames)
MIN_FOUND_SHARE = 0.5           # fewer frames with a face than this share: InputError
UNTRACKED = ("eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "cheekSquintLeft", "cheekSquintRight",
             "cheekPuff", "noseSneerLeft", "noseSneerRight", "mouthDimpleLeft", "mouthDimpleRight")
"""Shapes the solve leaves at 0: they barely move the 468 landmarks or mimic others (a squint next to a blink
explains a closed lid as well as the blink does), and speech rarely uses them; the gaze shapes move no vertex."""


@dataclass
class FaceTrack:
    """A tracked video or photo set.

    Attributes:
        motion: `MotionSequence` (T frames: rig coefficients, head rotation/translation relative to the reference
            frame's head at rest, gaze zeros) at the video's fps (1.0 for photos).
        landmarks_px: float32 [T, 478, 2] landmarks in crop pixels (NaN where no face was found).
        found: bool [T]. residual_px: float32 [T] mean reprojection error of the solved mesh, pixels.
        crop_box: (x0, y0, side) of the fixed crop in source pixels (from the reference frame).
        K, T_cam_from_head: the reference frame's camera (crop pixels at `FaceConfig.work_size`).
    """

    motion: object
    landmarks_px: np.ndarray
    found: np.ndarray
    residual_px: np.ndarray
    crop_box: tuple[float, float, float]
    K: np.ndarray
    T_cam_from_head: np.ndarray


def crop_frames(frames: np.ndarray, crop_box: tuple[float, float, float], size: int) -> np.ndarray:
    """float32 [T, size, size, 3] crops (RGB in [0, 1]) of uint8 frames [T, H, W, 3] at `crop_box` (source px)."""
    from vasa3d.face.analysis import _crop_square

    return np.stack([_crop_square(f.astype(np.float32) / 255.0, crop_box, size) for f in frames])


def landmarks_in_crops(frames: np.ndarray, crop_box: tuple[float, float, float], size: int, video: bool
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Face Mesh landmarks of uint8 frames [T, H, W, 3] in their `crop_box` crops at `size` px (cropped one at a
    time): (float32 [T, 478, 2] crop pixels, NaN where lost; found bool [T]). `video`: MediaPipe's tracking mode
    (landmarks carried from frame to frame)."""
    import mediapipe as mp

    from vasa3d.face.analysis import _to_u8

    T, S = len(frames), size
    out = np.full((T, 478, 2), np.nan, np.float32)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=not video, refine_landmarks=True, max_num_faces=1,
                                         min_detection_confidence=0.3, min_tracking_confidence=0.3) as fm:
        for t in range(T):
            result = fm.process(_to_u8(crop_frames(frames[t:t + 1], crop_box, size)[0]))
            if result.multi_face_landmarks:
                lm = result.multi_face_landmarks[0].landmark
                out[t] = [(p.x * S, p.y * S) for p in lm]
    return out, np.isfinite(out[:, 0, 0])


def solve_motion(head, K: np.ndarray, T_cam_from_head: np.ndarray, landmarks_px: np.ndarray, found: np.ndarray,
                 fps: float, smooth: bool, steps: int = TRACK_STEPS, progress=None):
    """Head pose and rig coefficients per frame that best explain the landmarks (see the module docstring).

    Args:
        head: the `HeadModel`; K [3, 3], T_cam_from_head [4, 4]: the camera; landmarks_px [T, 478, 2] (NaN rows
        where `found` [T] is False: their values are interpolated from the neighbours afterwards).
    Returns:
        (MotionSequence, residual_px float32 [T]).
    """
    import torch

    from vasa3d.head import kinematics as kin
    from vasa3d.head.rig import GAZE_SHAPES
    from vasa3d.head.rotation import matrix_from_axis_angle

    ht = kin.HeadTensors.from_head(head)
    names = ht.names
    free = torch.tensor([n not in GAZE_SHAPES and n not in UNTRACKED for n in names], dtype=torch.float32)
    T = landmarks_px.shape[0]
    target = torch.from_numpy(np.nan_to_num(landmarks_px[:, :468], nan=0.0))
    weight = torch.from_numpy(_landmark_weights() * found[:, None].astype(np.float32))
    Kt, Tc = torch.from_numpy(K.astype(np.float32)), torch.from_numpy(T_cam_from_head.astype(np.float32))
    rot = torch.zeros(T, 3, requires_grad=True)
    trans = torch.zeros(T, 3, requires_grad=True)
    raw = torch.zeros(T, len(names), requires_grad=True)
    pivot = ht.neck_pivot
    opt = torch.optim.LBFGS([rot, trans, raw], lr=1.0, max_iter=steps, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-6, tolerance_change=1e-9)

    def closure():
        opt.zero_grad()
        c = raw.clamp(0.0, 1.0) * free
        posed = _posed(kin.deform_batch(ht, c), matrix_from_axis_angle(rot), pivot, trans)
        err = _project(posed, Kt, Tc) - target
        loss = (weight * _huber(err.norm(dim=2))).sum() / weight.sum().clamp(min=1.0) + COEFF_L1 * c.sum(1).mean()
        loss.backward()
        return loss

    for rnd in range(TRACK_ROUNDS):          # restarts drop L-BFGS's curvature history, which stalls it otherwise
        if progress is not None:
            progress(rnd / TRACK_ROUNDS, f"tracking {T} frames, round {rnd + 1}/{TRACK_ROUNDS}")
        opt.step(closure)
        opt.state.clear()
    coeffs = raw.clamp(0.0, 1.0)
    with torch.no_grad():
        verts = kin.deform_batch(ht, coeffs * free)
        posed = _posed(verts, matrix_from_axis_angle(rot), pivot, trans)
        residual = (_project(posed, Kt, Tc) - target).norm(dim=2).mean(dim=1).numpy()
    values = [rot.detach().numpy(), TRANSLATION_SCALE * trans.detach().numpy(), (coeffs * free).detach().numpy()]
    values = [_fill_lost(v, found) for v in values]
    if smooth:
        values[0], values[1] = _smooth(values[0], POSE_SMOOTH_FRAMES), _smooth(values[1], POSE_SMOOTH_FRAMES)
    from vasa3d.motion.sequence import MotionSequence

    motion = MotionSequence(fps=fps, names=tuple(names), coeffs=values[2], head_rotation=values[0],
                            head_translation=values[1], gaze=np.zeros((T, 2), np.float32))
    return motion, np.where(found, residual, np.nan).astype(np.float32)


def _posed(verts, R, pivot, trans):
    """Mesh vertices [T, V, 3] turned by R [T, 3, 3] about the neck `pivot` and moved by trans [T, 3] (in units
    of TRANSLATION_SCALE metres)."""
    return (verts - pivot) @ R.transpose(1, 2) + pivot + TRANSLATION_SCALE * trans[:, None]


def _project(points, K, T_cam_from_head):
    """Pixels [..., 2] of head-frame points [..., 3] in the camera (K, T_cam_from_head)."""
    cam = points @ T_cam_from_head[:3, :3].T + T_cam_from_head[:3, 3]
    uvw = cam @ K.T
    return uvw[..., :2] / uvw[..., 2:].clamp(min=1e-6)


def _huber(r):
    import torch

    return torch.where(r < HUBER_PX, 0.5 * r * r, HUBER_PX * (r - 0.5 * HUBER_PX))


def _landmark_weights() -> np.ndarray:
    """float32 [468]: 1 for every face-mesh vertex, more on the inner lips and the lids."""
    from vasa3d.head import topology as topo

    w = np.ones(468, np.float32)
    w[list(topo.LIP_UPPER_INNER + topo.LIP_LOWER_INNER)] = LIP_WEIGHT
    w[list(topo.EYE_RIGHT_UPPER + topo.EYE_RIGHT_LOWER + topo.EYE_LEFT_UPPER + topo.EYE_LEFT_LOWER)] = EYE_WEIGHT
    return w


def _fill_lost(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """values [T, D] with the rows of frames without a face linearly interpolated from the found ones."""
    if found.all():
        return values.astype(np.float32)
    t = np.arange(len(found))
    out = np.stack([np.interp(t, t[found], values[found, d]) for d in range(values.shape[1])], axis=1)
    return out.astype(np.float32)


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Savitzky-Golay smoothing (quadratic) of values [T, D] along T (unchanged when T < window)."""
    from scipy.signal import savgol_filter

    if len(values) < window:
        return values
    return savgol_filter(values, window, 2, axis=0).astype(np.float32)


def track_frames(frames: np.ndarray, fps: float, video: bool, reference: int | None = None,
                 config: FaceConfig = FaceConfig(), progress=None, head=None):
    """Track uint8 RGB frames [T, H, W, 3] (one video's frames, or photos of one person resized alike).

    Args:
        reference: index of the frame whose face defines the crop, camera and head model (default: the most
            frontal closed-mouth frame among the first ones with a face, see `pick_reference`).
        video: True for consecutive video frames (tracking mode, temporal smoothing).
        head: the `HeadModel` to solve against (default: built from the reference frame); give an avatar's own
            head to drive it by its own person's video (self-reenactment), so no two head frames need to agree.
    Returns:
        (FaceTrack, FaceObservation of the reference frame, HeadModel).
    Raises:
        InputError: no face in the reference frame, or in fewer than half the frames.
    """
    from vasa3d.face.analysis import analyze_face
    from vasa3d.head.model import build_head

    if reference is None:
        reference = pick_reference(frames)
    obs = analyze_face(frames[reference].astype(np.float32) / 255.0, config)
    head = build_head(obs.landmarks_head) if head is None else head
    landmarks, found = landmarks_in_crops(frames, obs.crop_box, config.work_size, video)
    if found.mean() < MIN_FOUND_SHARE:
        raise InputError(f"a face was found in only {found.sum()} of {len(found)} frames; use a video where the "
                         "face stays in view, or photos of one face")
    motion, residual = solve_motion(head, obs.K, obs.T_cam_from_head, landmarks, found, fps, smooth=video,
                                    progress=progress)
    track = FaceTrack(motion=motion, landmarks_px=landmarks, found=found, residual_px=residual,
                      crop_box=obs.crop_box, K=obs.K, T_cam_from_head=obs.T_cam_from_head)
    return track, obs, head


def turn_share(lm: np.ndarray):
    """How far a face is turned, from Face Mesh landmarks [..., 478, 2+] in pixels: the nose tip's (1) horizontal
    offset from the middle of the face's sides (234, 454) over the face's width; 0 when frontal, NaN where the
    landmarks are NaN. A float for one face, an array [...] for several."""
    mid = 0.5 * (lm[..., 234, 0] + lm[..., 454, 0])
    return np.abs(lm[..., 1, 0] - mid) / np.maximum(np.abs(lm[..., 454, 0] - lm[..., 234, 0]), 1e-6)


def frontal_closed_score(lm: np.ndarray) -> float:
    """Lower is better for building an avatar from a face: its inner-lip gap (13-14) over the face height (10-152)
    plus half its `turn_share`; landmarks [478, 2+] in pixels."""
    face_h = np.linalg.norm(lm[152, :2] - lm[10, :2])
    return float(abs(lm[14, 1] - lm[13, 1]) / face_h + 0.5 * turn_share(lm))


def pick_reference(frames: np.ndarray, candidates: int = 16) -> int:
    """Index of the frame to build the avatar from: among up to `candidates` frames spread over the input, the one
    whose face is most frontal and whose mouth is most closed (Face Mesh on the whole frame); 0 if none has
    a face (the caller's face analysis then raises)."""
    import mediapipe as mp

    idx = np.unique(np.linspace(0, len(frames) - 1, min(candidates, len(frames))).round().astype(int))
    best, best_score = 0, np.inf
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=False, max_num_faces=1,
                                         min_detection_confidence=0.3) as fm:
        results = [(i, fm.process(np.ascontiguousarray(frames[i]))) for i in idx]
    for i, result in results:
        if not result.multi_face_landmarks:
            continue
        h, w = frames[i].shape[:2]
        lm = np.array([(p.x * w, p.y * h) for p in result.multi_face_landmarks[0].landmark])
        score = frontal_closed_score(lm)
        if score < best_score:
            best, best_score = int(i), score
    return best
