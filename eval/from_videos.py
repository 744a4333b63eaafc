"""`make-bench --from-videos DIR`: benchmark cases from any folder of real talking videos (HDTF-like sets).

Each video (.mp4 .mov .mkv .avi .webm .mpg) is cut into consecutive clips of `clip_s` seconds (a video shorter than
that, but at least `MIN_CLIP_S`, gives one clip of its whole length; a shorter tail is dropped). Per clip:
- a face-centred square crop, fixed over the clip (head motion stays in the picture): centred on the mean centre of
  the MediaPipe landmarks found in up to `CROP_SAMPLES` frames of the clip, side `CROP_SCALE` x the largest face
  extent seen (clamped to the frame: the square shrinks to fit), resized to `size` x `size`;
- `video.mp4` (H.264 CRF 10 + AAC), `audio.wav` (16 kHz mono), `portrait.png` (the clip's frame at
  `portrait_s` seconds from its start, default the first), and `transcript.txt` only when a `<video stem>.txt`
  beside the video holds the words and the whole video is one clip (a transcript cannot be split by time);
- `case.json`: provenance (source path, its SHA-256, clip start and end, source frame rate and size, crop box in
  source pixels, portrait frame, transcript source).
Clips in which no face is found in any sampled frame are skipped (listed in the README).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vasa3d.io.media import file_sha256

VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg")
MIN_CLIP_S = 2.0
CROP_SAMPLES = 10
CROP_SCALE = 1.9
CASE_AUDIO_SR = 16000


@dataclass(frozen=True)
class ClipSpec:
    """One clip to cut: source video, [start_s, end_s), case name."""

    source: Path
    start_s: float
    end_s: float
    name: str


def plan_clips(videos: list[Path], clip_s: float) -> list[ClipSpec]:
    """The clips of each video (see the module docstring); names `<stem>_<k:03d>` with unsafe characters as _."""
    from vasa3d.io import probe_media

    out = []
    for v in videos:
        duration = probe_media(v).duration_s
        stem = re.sub(r"[^A-Za-z0-9_-]+", "_", v.stem)
        n = int(duration // clip_s)
        spans = [(k * clip_s, (k + 1) * clip_s) for k in range(n)]
        if n == 0 and duration >= MIN_CLIP_S:
            spans = [(0.0, duration)]
        out += [ClipSpec(v, a, b, f"{stem}_{k:03d}") for k, (a, b) in enumerate(spans)]
    return out


def face_square(frames: np.ndarray) -> tuple[int, int, int] | None:
    """(x0, y0, side) of the square crop of frames uint8 [T, H, W, 3] (see the module docstring), or None."""
    from eval.tracking import track_image

    H, W = frames.shape[1:3]
    centres, extents = [], []
    for t in np.linspace(0, len(frames) - 1, min(CROP_SAMPLES, len(frames))).round().astype(int):
        lm = track_image(frames[t])
        if lm is None:
            continue
        lo, hi = lm[:, :2].min(0), lm[:, :2].max(0)
        centres.append(0.5 * (lo + hi))
        extents.append(float((hi - lo).max()))
    if not centres:
        return None
    cx, cy = np.mean(centres, 0)
    side = int(min(CROP_SCALE * max(extents), W, H)) // 2 * 2
    x0 = int(np.clip(round(cx - side / 2), 0, W - side))
    y0 = int(np.clip(round(cy - side / 2), 0, H - side))
    return x0, y0, side


def _clip_frames(spec: ClipSpec, fps: float) -> np.ndarray:
    import itertools

    from vasa3d.io import iter_video_frames

    a, b = int(round(spec.start_s * fps)), int(round(spec.end_s * fps))
    return np.stack(list(itertools.islice(iter_video_frames(spec.source), a, b)))


def cut_clip(spec: ClipSpec, case_dir: Path, size: int, portrait_s: float, transcript: str | None) -> dict | None:
    """Write one case (see the module docstring) into `case_dir`; returns its provenance dict, or None (and
    writes nothing) when no face is found in the clip."""
    import cv2

    from vasa3d.io import probe_media, read_audio, write_image, write_video, write_wav

    info = probe_media(spec.source)
    fps = info.video.fps
    frames = _clip_frames(spec, fps)
    box = face_square(frames)
    if box is None:
        return None
    x0, y0, side = box
    crop = np.stack([cv2.resize(f[y0:y0 + side, x0:x0 + side], (size, size), interpolation=cv2.INTER_AREA)
                     for f in frames])
    wave = read_audio(spec.source, sr=CASE_AUDIO_SR)
    sound = wave[int(round(spec.start_s * CASE_AUDIO_SR)):int(round(spec.end_s * CASE_AUDIO_SR))]
    k = int(np.clip(round(portrait_s * fps), 0, len(crop) - 1))
    case_dir.mkdir(parents=True, exist_ok=True)
    write_image(case_dir / "portrait.png", crop[k].astype(np.float32) / 255.0)
    write_wav(case_dir / "audio.wav", sound, CASE_AUDIO_SR)
    write_video(case_dir / "video.mp4", crop, fps, sound, CASE_AUDIO_SR, crf=10)
    if transcript:
        (case_dir / "transcript.txt").write_text(transcript.strip() + "\n", encoding="utf-8")
    prov = {"source": str(spec.source.resolve()), "source_sha256": file_sha256(spec.source),
            "start_s": spec.start_s, "end_s": spec.end_s, "source_fps": fps,
            "source_size": [info.video.width, info.video.height], "crop_xywh": [x0, y0, side, side],
            "size": size, "portrait_frame": k, "transcript": "beside the video" if transcript else None}
    (case_dir / "case.json").write_text(json.dumps(prov, indent=1), encoding="utf-8")
    return prov


def make_bench_from_videos(folder: Path, out: Path, clip_s: float = 10.0, size: int = 512,
                           portrait_s: float = 0.0) -> list:
    """Cases from every video in `folder` into `out` (see the module docstring); returns `load_cases(out)`.

    Raises FileNotFoundError when `folder` holds no video or no clip has a face; ValueError for clip_s < MIN_CLIP_S.
    """
    from eval.bench import load_cases

    folder, out = Path(folder), Path(out)
    if clip_s < MIN_CLIP_S:
        raise ValueError(f"--clip-s must be at least {MIN_CLIP_S} s, got {clip_s}")
    videos = sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTS) if folder.is_dir() else []
    if not videos:
        raise FileNotFoundError(f"no video ({' '.join(VIDEO_EXTS)}) in '{folder}'")
    specs = plan_clips(videos, clip_s)
    rows, skipped = [], []
    for spec in specs:
        words = spec.source.with_suffix(".txt")
        one_clip = sum(s.source == spec.source for s in specs) == 1
        text = words.read_text(encoding="utf-8") if words.exists() and one_clip else None
        prov = cut_clip(spec, out / spec.name, size, portrait_s, text)
        (rows if prov else skipped).append((spec, prov))
    _write_readme(out, folder, rows, skipped)
    if not rows:
        raise FileNotFoundError(f"no face found in any clip of the videos in '{folder}'")
    return load_cases(out)


def _write_readme(out: Path, folder: Path, rows, skipped) -> None:
    lines = ["# Benchmark from videos (written by `python -m eval make-bench --from-videos`)", "",
             f"Cut from the videos in `{folder}`; each case's `case.json` records its source, clip and crop.", "",
             "| case | source | clip (s) | crop x, y, side (px) | transcript |", "|---|---|---|---|---|"]
    for spec, p in rows:
        lines.append(f"| {spec.name} | {spec.source.name} | {spec.start_s:.1f}-{spec.end_s:.1f} | "
                     f"{', '.join(map(str, p['crop_xywh'][:3]))} | {'yes' if p['transcript'] else 'no'} |")
    if skipped:
        lines += ["", "Skipped (no face found): " + ", ".join(s.name for s, _ in skipped)]
    lines += ["", "Terms: those of the source videos. GRID material must carry its credit (CC BY 4.0: Cooke, "
              "Barker, Cunningham & Shao 2006, JASA 120(5)).", ""]
    out.mkdir(parents=True, exist_ok=True)
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")
