"""`python -m eval speech-check`: the person-specific speech model against the generic one on held-out speech of the
same person (issue 13's protocol: learn on the first part of a talking video, score on the rest).

Protocol:
1. Track [start, split) of the video as `vasa3d fit` does (`vasa3d.face.track.track_frames`) and learn the
   person's model from its sound (`vasa3d.video_mode.learn_speech`: phones recognised, no transcript); `model`
   reports whether `vasa3d fit` would keep it (`kept`: its cross-validated lip gap beats the generic model's on
   the training part); it is scored either way.
2. Track the held-out part [split, end) against the same head model (as `reenact --same-person` does), so its
   coefficients are in the same units; its MediaPipe landmarks give the real inner-lip gap (landmarks 13-14 over
   the face height 10-152).
3. From the held-out audio alone ("blind": phones recognised) and, where the video has a transcript TSV beside it
   (`<stem>.transcript.tsv`, columns start_s, end_s, transcript), with its words ("transcript"), predict the motion
   with the generic model and with the person's model, then score:
   - per mouth coefficient (`CHANNELS`): Pearson correlation and mean absolute error against the tracked one;
   - `gap_mesh`: the inner-lip gap of the head mesh posed by the predicted coefficients (vertices 13-14 over
     10-152, the same points as the landmarks) against the real landmarks' gap: correlation and mean absolute
     error (face heights);
   - with `--render`: `gap_render`: the single-photo avatar of the tracking reference frame (its head is the
     tracking head) rendered with each motion, its lip gap measured by the evaluation's own tracker
     (`eval.tracking`, `eval.metrics.mouth.mouth_open`) against the real video's by the same tracker (the
     "talk: lip-gap correlation" figure of the issue).
Prints JSON (and writes it with `--out`); `--plot` also draws the held-out lip gaps (real, generic, personal).
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np

CHANNELS = ("jawOpen", "mouthFunnel", "mouthPucker", "mouthStretchLeft", "mouthStretchRight", "mouthLowerDownLeft",
            "mouthUpperUpLeft", "mouthRollLower", "mouthClose")
"""Coefficients scored (those the tracker sees move in speech; mouthClose stays ~0 in tracked GRID video)."""
AUDIO_RATE = 16000


def transcript_between(tsv: Path, start_s: float, end_s: float) -> str | None:
    """The words of the sentences of a transcript TSV (start_s, end_s, ..., transcript) inside [start_s, end_s)."""
    if not tsv.is_file():
        return None
    with open(tsv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    words = [r["transcript"] for r in rows
             if float(r["start_s"]) >= start_s - 1e-6 and float(r["end_s"]) <= end_s + 1e-6]
    return " ".join(words) or None


def mesh_gap(head, motion) -> np.ndarray:
    """float64 [T] inner-lip gap of `head`'s mesh posed by the motion's coefficients (`vasa3d.video_mode.mesh_lip_gap`;
    no head pose: the ratio barely depends on it)."""
    from vasa3d.video_mode import mesh_lip_gap

    return mesh_lip_gap(head, motion.names, motion.coeffs)


def landmark_gap(landmarks_px: np.ndarray) -> np.ndarray:
    """float64 [T] inner-lip gap over face height of MediaPipe landmarks [T, 478, 2+] (NaN where lost)."""
    lm = landmarks_px.astype(np.float64)
    height = np.linalg.norm(lm[:, 10, :2] - lm[:, 152, :2], axis=1)
    return np.linalg.norm(lm[:, 13, :2] - lm[:, 14, :2], axis=1) / height


def _corr_mae(pred: np.ndarray, truth: np.ndarray) -> dict:
    ok = np.isfinite(pred) & np.isfinite(truth)
    p, t = pred[ok], truth[ok]
    corr = float(np.corrcoef(p, t)[0, 1]) if p.std() > 1e-9 and t.std() > 1e-9 else None
    return {"corr": None if corr is None else round(corr, 3), "mae": round(float(np.abs(p - t).mean()), 4)}


def score(motion, tracked, head, real_gap) -> dict:
    """Figures of one predicted motion against the held-out tracked motion and real lip gap (see the module doc)."""
    n = tracked.num_frames
    out = {c: _corr_mae(motion.coeff(c)[:n], tracked.coeff(c)) for c in CHANNELS}
    out["gap_mesh"] = _corr_mae(mesh_gap(head, motion)[:n], real_gap)
    return out


def rendered_gap(avatar, motion, size: int, return_frames: bool = False):
    """float64 [T] lip gap of `avatar` rendered with `motion` (head still) at `size` px, by the evaluation's
    tracker; with `return_frames`, (gap, the frames uint8 [T, size, size, 3])."""
    from vasa3d.pipeline import render_frames

    from eval.metrics.mouth import mouth_open
    from eval.tracking import track_video

    still = type(motion)(motion.fps, motion.names, motion.coeffs, np.zeros_like(motion.head_rotation),
                         np.zeros_like(motion.head_translation), np.zeros_like(motion.gaze))
    frames = np.stack(list(render_frames(avatar, still, np.zeros((motion.num_frames, 2), np.float32), size)))
    gap = mouth_open(track_video(frames, motion.fps))
    return (gap, frames) if return_frames else gap


def main(video: Path, start_s: float, split_s: float, end_s: float, render: bool, size: int,
         out: Path | None = None, plot: Path | None = None) -> int:
    """Run the protocol on `video` (learn on [start_s, split_s), score on [split_s, end_s)); print the JSON."""
    from vasa3d.config import MotionConfig
    from vasa3d.face.track import track_frames
    from vasa3d.motion import motion_from_audio
    from vasa3d.video_mode import learn_speech, read_clip

    t0 = time.perf_counter()
    train = read_clip(video, start_s, split_s)
    track, obs, head = track_frames(train.frames, train.fps, video=True)
    model, summary = learn_speech(train, track, head)
    if model is None and "kind" not in summary:
        raise SystemExit(f"no speech model: {summary['skipped']}")
    summary["kept"] = model is not None
    if model is None:
        from vasa3d.motion.personal import learn_speech_model

        model = learn_speech_model(train.audio, AUDIO_RATE, track.motion, track.found)
    test = read_clip(video, split_s, end_s)
    held, _, _ = track_frames(test.frames, test.fps, video=True, head=head)
    truth, real_gap = held.motion, landmark_gap(held.landmarks_px)
    real_gap[~held.found] = np.nan
    result = {"video": str(video), "learn_s": [start_s, split_s], "held_out_s": [split_s, end_s],
              "frames": {"learn": len(train.frames), "held_out": len(test.frames)}, "model": summary,
              "conditions": {}}
    transcript = transcript_between(video.with_name(video.stem + ".transcript.tsv"), split_s, end_s)
    config = MotionConfig(fps=test.fps)
    avatar, real_render = None, None
    if render:
        from vasa3d.avatar import Avatar

        from eval.metrics.mouth import mouth_open
        from eval.tracking import track_video

        avatar = Avatar.from_observation(obs)
        real_render = mouth_open(track_video(test.frames, test.fps))
    curves = {}
    for condition, words in (("blind", None), ("transcript", transcript)):
        if condition == "transcript" and words is None:
            continue
        figures = {}
        for name, personal in (("generic", None), ("personal", model)):
            motion = motion_from_audio(test.audio, AUDIO_RATE, words, config=config, num_frames=len(test.frames),
                                       personal=personal)
            figures[name] = score(motion, truth, head, real_gap)
            curves[(condition, name)] = mesh_gap(head, motion)
            if render:
                figures[name]["gap_render"] = _corr_mae(rendered_gap(avatar, motion, size), real_render)
        result["conditions"][condition] = figures
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(result, indent=2)
    print(text)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
    if plot is not None:
        _plot(plot, test.fps, split_s, real_gap, curves)
    return 0


def _plot(path: Path, fps: float, split_s: float, real_gap: np.ndarray, curves: dict) -> None:
    """Held-out lip gaps over time: real landmarks, and the posed mesh for each condition and model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conditions = sorted({c for c, _ in curves})
    fig, axes = plt.subplots(len(conditions), 1, figsize=(12, 2.6 * len(conditions)), sharex=True, squeeze=False)
    t = split_s + np.arange(len(real_gap)) / fps
    for ax, condition in zip(axes[:, 0], conditions):
        ax.plot(t, real_gap, "k", lw=1.2, label="real (landmarks)")
        for name, colour in (("generic", "tab:blue"), ("personal", "tab:red")):
            ax.plot(t, curves[(condition, name)][:len(t)], colour, lw=1, label=f"{name} (mesh)")
        ax.set_ylabel(f"{condition}\nlip gap / face h")
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("s (held out); video: GRID corpus, CC BY 4.0, Cooke et al. 2006")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
