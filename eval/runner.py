"""`python -m eval run`: for every case and method make or find the video, track it, and compute every metric.

Per case, the speech analysis (aligned phones, silences), the portrait's identity embedding and the real video's
track are computed once and shared by the methods. Results go to `eval.results` and `eval.report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from eval.bench import Case
from eval.methods import AUDIO_SR, CaseInputs, MethodVideo, make_video
from eval.metrics import METRIC_NAMES, Score
from eval.speech import PhoneSpan
from eval.tracking import Track

THUMBS = 6
THUMB_PX = 160


@dataclass
class Truth:
    """The real video of a case: frames uint8 [T, H, W, 3], its track, its path, its naturalness figures
    (`eval.metrics.naturalness.RATIO_FIGURES` -> Score, set by `evaluate_case`), the lip landmarker the case uses
    for LMD (`eval.metrics.lmd`) and the real frames' lip points from it (float64 [T, K, 2])."""

    frames: np.ndarray
    track: Track
    path: Path
    figures: dict | None = None
    landmarker: object | None = None
    lips: np.ndarray | None = None


@dataclass
class CaseSpeech:
    """Per-case speech analysis: 16 kHz wave, phones (or None and why), silences [(start_s, end_s)], where the
    phones came from ("transcript": forced alignment, "recognition": phone recognition, "none")."""

    wave: np.ndarray
    phones: list[PhoneSpan] | None
    phones_reason: str | None
    silences: list[tuple[float, float]]
    phones_source: str = "transcript"

    @property
    def duration_s(self) -> float:
        return len(self.wave) / AUDIO_SR


@dataclass
class Evaluation:
    """One (case, method): its scores (every name in METRIC_NAMES), mouth_open per frame, fps, thumbnails at the
    case's montage times (uint8 [THUMBS, h, w, 3]) and one turned render (or None)."""

    case: str
    method: str
    scores: dict[str, Score]
    mouth: np.ndarray | None = None
    fps: float = 25.0
    thumbs: np.ndarray | None = None
    turned_thumb: np.ndarray | None = None
    video: Path | None = None
    extra: dict = field(default_factory=dict)


def _null_all(reason: str) -> dict[str, Score]:
    return {n: Score.null(reason) for n in METRIC_NAMES}


def _thumbs(frames: np.ndarray, fps: float, duration_s: float) -> np.ndarray:
    import cv2

    idx = [min(len(frames) - 1, int(round(duration_s * k / THUMBS * fps))) for k in range(THUMBS)]
    out = []
    for i in idx:
        f = frames[i]
        w = int(round(f.shape[1] * THUMB_PX / f.shape[0]))
        out.append(cv2.resize(f, (w, THUMB_PX), interpolation=cv2.INTER_AREA))
    return np.stack(out)


def image_quality(frames: np.ndarray, track: Track, truth: Truth | None) -> dict[str, Score]:
    """lpips, psnr, ssim on face crops and lmd on lip landmarks against the real video (see `eval.metrics.crops`
    and `eval.metrics.lmd`)."""
    from eval.metrics.crops import face_crops, register
    from eval.metrics.lmd import lmd
    from eval.metrics.lpips import LPIPSUnavailable, lpips_distance
    from eval.metrics.psnr import psnr
    from eval.metrics.ssim import ssim

    names = ("lpips", "psnr", "ssim", "lmd")
    if truth is None:
        return {n: Score.null("no ground-truth video") for n in names}
    to_truth = register(track, truth.track)
    if to_truth is None:
        return {n: Score.null("no frame with a tracked face in both videos") for n in names}
    real, fake = face_crops(truth.frames, truth.track, frames, to_truth)
    if len(real) == 0:
        return {n: Score.null("no frame to compare") for n in names}
    a, b = real.astype(np.float32) / 255.0, fake.astype(np.float32) / 255.0
    out = {"psnr": psnr(a, b), "ssim": ssim(a, b)}
    fake_lips = truth.lips if frames is truth.frames else truth.landmarker.lips(frames, track)
    out["lmd"] = lmd(truth.lips, truth.track, fake_lips, to_truth)
    try:
        out["lpips"] = Score.of(float(np.mean(lpips_distance(a, b))))
    except LPIPSUnavailable as exc:
        out["lpips"] = Score.null(str(exc))
    return out


def natural_figures(frames: np.ndarray, track: Track, mouth: np.ndarray, speech: CaseSpeech) -> dict[str, Score]:
    """lip_dynamics, eyebrow_dynamics, mouth_sharpness, head_motion_dynamics, silence_lip_motion of one video."""
    from eval.metrics.head_motion import head_motion_dynamics
    from eval.metrics.naturalness import eyebrow_dynamics, lip_dynamics, mouth_sharpness
    from eval.metrics.silence import silence_lip_motion

    return {"lip_dynamics": lip_dynamics(mouth, track.fps, speech.silences),
            "eyebrow_dynamics": eyebrow_dynamics(track),
            "mouth_sharpness": mouth_sharpness(frames, track), "head_motion_dynamics": head_motion_dynamics(track),
            "silence_lip_motion": silence_lip_motion(mouth, track.fps, speech.silences)}


def score_video(frames: np.ndarray, fps: float, track: Track, speech: CaseSpeech, truth: Truth | None,
                portrait_embedding: np.ndarray | None, mv: MethodVideo, syncnet_weights: Path | None
                ) -> tuple[dict[str, Score], np.ndarray]:
    """Every metric of one video; returns (scores by name, mouth_open [T])."""
    from eval.metrics.av_sync import audio_features, av_sync, visual_features
    from eval.metrics.closure import closure_rate
    from eval.metrics.face_detect import face_detect_rate
    from eval.metrics.head_motion import head_motion_dynamics
    from eval.metrics.identity import csim, mean_similarity
    from eval.metrics.mouth import mouth_open
    from eval.metrics.msi import msi
    from eval.metrics.naturalness import naturalness, ratios_to_real
    from eval.metrics.silence import silence_lip_motion
    from eval.metrics.speed import speed
    from eval.metrics.syncnet import lse
    from eval.metrics.vowel_openness import vowel_openness
    from eval.metrics.wobble import wobble

    mouth = mouth_open(track)
    s: dict[str, Score] = {"face_detect_rate": face_detect_rate(track)}
    why = speech.phones_reason or "no phones"
    s["closure_rate"] = closure_rate(mouth, fps, speech.phones, why)
    s["vowel_openness"] = vowel_openness(mouth, fps, speech.phones, why)
    s["av_offset_frames"], s["av_confidence"] = av_sync(visual_features(track),
                                                        audio_features(speech.wave, AUDIO_SR, fps, len(mouth)))
    s["lse_c"], s["lse_d"] = lse(syncnet_weights, frames, track, speech.wave)
    s.update(image_quality(frames, track, truth))
    s["csim"] = csim(portrait_embedding, frames)
    s["csim_yaw30"] = (mean_similarity(portrait_embedding, list(mv.turned)) if mv.turned is not None
                       else Score.null(mv.turn_reason))
    s["wobble"] = wobble(track)
    s["msi"] = msi(track)
    s["head_motion_dynamics"] = head_motion_dynamics(track)
    s["silence_lip_motion"] = silence_lip_motion(mouth, fps, speech.silences)
    s.update(natural_figures(frames, track, mouth, speech))
    if truth is not None and truth.figures is not None:
        s["naturalness"] = naturalness(ratios_to_real(s, truth.figures))
    else:
        s["naturalness"] = Score.null("no real video to compare with")
    s.update(speed(mv.timings, len(frames), speech.duration_s))
    return {n: s[n] for n in METRIC_NAMES}, mouth


def evaluate_case(case: Case, methods: list[str], out_dir: Path, size: int, externals: dict[str, Path],
                  syncnet_weights: Path | None = None, reuse: bool = False, progress=None, reenact=None,
                  lmd_landmarks: str = "auto") -> list[Evaluation]:
    """Evaluations of every method on `case` (groundtruth only where the case has a real video), then, where it
    has one, of every drivable method in `reenact` ({name: `eval.reenact.Drivable`}) driven by it (rows
    `<name>@reenact`, see `eval.reenact`). lmd_landmarks: `eval.metrics.lmd.LANDMARKS` choice for LMD.

    progress: optional callable(message, done) told which step runs (done = methods finished since the last
    call). Problems with a method's inputs become null scores with the reason; bugs raise.
    """
    from vasa3d.io import read_image_u8, read_video

    from eval.metrics.identity import embed
    from eval.speech import case_phones, silent_spans
    from eval.tracking import track_video

    tell = progress or (lambda msg, done: None)
    inputs = CaseInputs(case, size)
    phones, why, source = case_phones(inputs.wave, case.transcript)
    speech = CaseSpeech(inputs.wave, phones, why, silent_spans(inputs.wave, AUDIO_SR), source)
    portrait_embedding = embed(read_image_u8(case.portrait))
    truth = None
    if case.video is not None:
        tell(f"{case.name}: tracking the real video", 0)
        frames, fps = read_video(case.video)
        truth = Truth(frames, track_video(frames, fps), case.video)
        from eval.metrics.lmd import landmarker
        from eval.metrics.mouth import mouth_open

        truth.landmarker = landmarker(lmd_landmarks)
        truth.lips = truth.landmarker.lips(frames, truth.track)

        truth.figures = natural_figures(frames, truth.track, mouth_open(truth.track), speech)
    shared = (case, speech, truth, portrait_embedding, syncnet_weights, tell)
    results = []
    for method in methods:
        if method == "groundtruth" and truth is None:
            tell(f"{case.name}: no real video", 1)
            continue
        tell(f"{case.name}: {method}", 0)
        results.append(_score_method(method, make_video(method, inputs, out_dir, externals, reuse), *shared))
    if truth is not None:
        from eval.reenact import SUFFIX, drive_case

        for name, driven in (reenact or {}).items():
            tell(f"{case.name}: {name} driven by the real video", 0)
            results.append(_score_method(name + SUFFIX, drive_case(driven, case, out_dir), *shared))
    return results


def _score_method(method: str, mv: MethodVideo, case: Case, speech: CaseSpeech, truth: Truth | None,
                  portrait_embedding, syncnet_weights, tell) -> Evaluation:
    """The Evaluation of one method's video `mv` on `case` (every metric null with the reason if it has none)."""
    from vasa3d.io import read_video

    from eval.tracking import track_video

    if mv.video is None:
        tell(f"{case.name}: {method} has no video", 1)
        return Evaluation(case.name, method, _null_all(mv.reason or "no video"))
    if truth is not None and Path(mv.video).resolve() == truth.path.resolve():
        frames, fps, track = truth.frames, truth.track.fps, truth.track
    else:
        frames, fps = read_video(mv.video)
        track = track_video(frames, fps)
    scores, mouth = score_video(frames, fps, track, speech, truth, portrait_embedding, mv, syncnet_weights)
    turned = mv.turned[len(mv.turned) // 2] if mv.turned is not None and len(mv.turned) else None
    tell(f"{case.name}: {method} scored", 1)
    return Evaluation(case.name, method, scores, mouth, fps, _thumbs(frames, fps, speech.duration_s), turned,
                      Path(mv.video), {"phones": speech.phones, "silences": speech.silences,
                                       "phones_source": speech.phones_source, "ratios_to_real": _ratios(scores, truth),
                                       "lmd_landmarks": truth.landmarker.name if truth is not None else None})


def _ratios(scores: dict[str, Score], truth: Truth | None) -> dict | None:
    from eval.metrics.naturalness import ratios_to_real

    return ratios_to_real(scores, truth.figures) if truth is not None and truth.figures else None


@dataclass(frozen=True)
class CaseJob:
    """Everything one worker needs to evaluate one case (picklable, for Ray)."""

    case: Case
    methods: tuple[str, ...]
    out_dir: Path
    size: int
    externals: tuple[tuple[str, Path], ...] = ()
    syncnet_weights: Path | None = None
    reuse: bool = False
    reenact: tuple[str, ...] = ()
    lmd_landmarks: str = "auto"


def run_case_job(job: CaseJob) -> list[Evaluation]:
    """`evaluate_case` of one CaseJob (the function each worker runs)."""
    from eval.reenact import drivable

    return evaluate_case(job.case, list(job.methods), job.out_dir, job.size, dict(job.externals),
                         job.syncnet_weights, job.reuse, reenact={n: drivable(n) for n in job.reenact},
                         lmd_landmarks=job.lmd_landmarks)


def job_cost(job: CaseJob) -> float:
    """Estimated work of a case (for longest-first scheduling): seconds of audio x videos to make and track (each
    method, each drivable method, and the real video)."""
    from vasa3d.io import probe_media

    try:
        seconds = probe_media(job.case.audio).duration_s
    except Exception:  # noqa: BLE001 - an unreadable case fails in its own job, with its reason; here it is cheap
        seconds = 0.0
    videos = len(job.methods) + (1 + len(job.reenact) if job.case.video is not None else 0)
    return seconds * videos


def evaluate_cases(jobs: list[CaseJob], workers: int = 1, ray_address: str | None = None, progress=None
                   ) -> list[Evaluation]:
    """Evaluations of every job's case, in job order, sequentially (workers = 1) or on Ray (`vasa3d.batch`).

    A case that raises becomes one row per method with every metric null and the reason "case failed: ...";
    the others are kept. Each row's `extra` records the worker's hardware (`worker`) and the case's seconds.
    progress: optional callable(JobResult) called as each case finishes.
    """
    from vasa3d.batch import run_jobs

    evals: list[Evaluation] = []
    for job, res in zip(jobs, run_jobs(run_case_job, jobs, workers, ray_address, progress, cost=job_cost)):
        if res.ok:
            rows = res.value
        else:
            why = f"case failed: {res.error.splitlines()[0]}"
            rows = [Evaluation(job.case.name, m, _null_all(why), extra={"failed": res.error}) for m in job.methods]
        for e in rows:
            e.extra.update(worker=res.hardware, case_seconds=round(res.seconds, 3),
                           case_cpu_seconds=round(res.cpu_seconds, 3))
        evals += rows
    return evals
