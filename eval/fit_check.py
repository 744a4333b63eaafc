"""`python -m eval fit-check`: issue 13's self-reenactment protocol on a talking video, as one held-out table.

Protocol (defaults: the shared GRID video, fit on [0, 42) s, score on [42, 60) s):
1. Avatars, each cached in `--cache` under a key of its inputs, its settings and the code (`code_digest`), and so
   are their reenactments (a second run only scores):
   - `fitted`: `vasa3d fit` of the video over [start, split) (`vasa3d.video_mode.fit_from_video`; it carries the
     person's speech model when one was learned);
   - `photos3`: `vasa3d fit` of three frames of [start, split) (`fit_from_photos`): the one with the mouth most
     closed, the one nearest half-way between the most closed and the widest, and the widest (inner-lip gap by the
     evaluation's tracker, every 5th frame, frontal ones);
   - `closed`: the single-photo avatar (`vasa3d build`) of the first of those three, the closed-mouth frame (what
     the three photos are to improve on: the real teeth and mouth interior);
   - `photo`: the single-photo avatar of the frame at `split` (the first held-out frame; the talk comparison).
2. Rows on the held-out part [split, end):
   - `<avatar>@reenact`: `vasa3d reenact --same-person` of the held-out video (its tracked pose and expressions,
     its own frame geometry);
   - `static`: the real frame at the start of each `--hold` seconds (GRID's 3 s sentences are separate recordings,
     so the head jumps a little at each boundary) held still until the next;
   - `<avatar>@talk`: the avatar driven by the held-out audio alone (`motion_from_audio`, no transcript; the
     fitted avatar's own speech model where it has one, the generic model otherwise), head still.
3. Metrics (boxes from the evaluation's MediaPipe tracker on each *real* frame; the first frame of every hold
   span is left out for every row, since `static` is that frame exactly):
   - `psnr_face`, `ssim_face`, `lpips_face` on the face box (bounding box of the 468 face landmarks), and
     `psnr_mouth` on the mouth box (the 20 outer-lip landmarks' box, padded by a quarter of its width), all
     resampled to `--crop` px; PSNR pools the squared error over every compared crop (`eval.metrics.psnr`);
   - `lmd`: lip-landmark distance in the 224-px face crop (`eval.metrics.lmd`, MediaPipe lips);
   - `gap_corr`: Pearson correlation of the tracked inner-lip gap (`eval.metrics.mouth.mouth_open`) with the
     real video's (for the talk rows: the only image-free comparison, since they move the head differently).
Prints the table and writes JSON (`--out`) and a contact sheet of held-out frames (`--sheet`: real | static | each
reenact | each talk). The held-out videos are kept in memory (about 1 GB for 18 s at 360 x 288). GRID material:
credit the GRID corpus (CC BY 4.0) in anything that shows it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from vasa3d.head import topology as topo

OUTER_LIPS = topo.LIP_LOWER_OUTER + topo.LIP_UPPER_OUTER[1:-1]
"""MediaPipe's outer-lip contour (the mouth box): the lower and upper outer lips, the corners once."""
AUDIO_RATE = 16000
SHEET_TIMES = 6


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 (16 hex digits) of vasa3d's Python sources: part of every cache key, so a cached avatar or video is
    never reused after the code that made it changed. Read once per process (every cache key uses it)."""
    import vasa3d

    digest = hashlib.sha256()
    root = Path(vasa3d.__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _key(*parts) -> str:
    return hashlib.sha256(json.dumps([code_digest(), *parts], sort_keys=True, default=str).encode()).hexdigest()[:16]


def _cached(cache: Path, name: str, key: str, make):
    """The avatar `make()` builds, saved in `cache/<name>-<key>.npz` and loaded from there next time."""
    from vasa3d.avatar import Avatar

    path = cache / f"{name}-{key}.npz"
    if path.is_file():
        return Avatar.load(path), True
    avatar = make()
    cache.mkdir(parents=True, exist_ok=True)
    avatar.save(path)
    return avatar, False


def pick_photos(frames: np.ndarray, fps: float) -> list[int]:
    """Indices of three frames of `frames` (uint8 [T, H, W, 3]): mouth most closed, half-way, widest open (inner-lip
    gap by the evaluation's tracker on every 5th frame, among the frames within 0.05 of the most frontal
    `vasa3d.face.track.turn_share`)."""
    from vasa3d.face.track import turn_share

    from eval.metrics.mouth import mouth_open
    from eval.tracking import track_video

    step = 5
    track = track_video(frames[::step], fps / step)
    gap = mouth_open(track)
    turn = turn_share(track.landmarks.astype(np.float64))
    ok = track.found & np.isfinite(gap) & (turn <= np.nanmin(turn) + 0.05)
    idx = np.flatnonzero(ok)
    lo, hi = idx[np.argmin(gap[idx])], idx[np.argmax(gap[idx])]
    mid = idx[np.argmin(np.abs(gap[idx] - 0.5 * (gap[lo] + gap[hi])))]
    return [int(i) * step for i in (lo, mid, hi)]


def _boxes(lm: np.ndarray):
    x0, y0 = lm[:468, :2].min(0)
    x1, y1 = lm[:468, :2].max(0)
    mx0, my0 = lm[list(OUTER_LIPS), :2].min(0)
    mx1, my1 = lm[list(OUTER_LIPS), :2].max(0)
    pad = 0.25 * (mx1 - mx0)
    return (x0, y0, x1, y1), (mx0 - pad, my0 - pad, mx1 + pad, my1 + pad)


def _crop(img: np.ndarray, box, side: int) -> np.ndarray:
    """float32 [side, side, 3] in [0, 1]: `box` (x0, y0, x1, y1, frame pixels) of `img` resampled (black outside)."""
    import cv2

    x0, y0, x1, y1 = box
    M = np.array([[side / (x1 - x0), 0, -x0 * side / (x1 - x0)], [0, side / (y1 - y0), -y0 * side / (y1 - y0)]])
    out = cv2.warpAffine(img, M, (side, side), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out.astype(np.float32) / 255.0


def score_reenact(real: np.ndarray, fake: np.ndarray, real_track, fake_track, scored: np.ndarray, side: int) -> dict:
    """Image and lip figures of `fake` (uint8 [T, H, W, 3], the real video's geometry) against `real` over the
    frames `scored` (bool [T]; boxes from the real frames' landmarks)."""
    from vasa3d.video_mode import finite_corr

    from eval.metrics.lmd import MediaPipeLips, lmd
    from eval.metrics.lpips import LPIPSUnavailable, lpips_distance
    from eval.metrics.mouth import mouth_open
    from eval.metrics.psnr import psnr
    from eval.metrics.ssim import ssim

    a_face, b_face, a_mouth, b_mouth = [], [], [], []
    for t in np.flatnonzero(scored & real_track.found):
        face, mouth = _boxes(real_track.landmarks[t])
        a_face.append(_crop(real[t], face, side))
        b_face.append(_crop(fake[t], face, side))
        a_mouth.append(_crop(real[t], mouth, side))
        b_mouth.append(_crop(fake[t], mouth, side))
    a_face, b_face, a_mouth, b_mouth = map(np.stack, (a_face, b_face, a_mouth, b_mouth))
    out = {"psnr_face": psnr(a_face, b_face).value, "ssim_face": ssim(a_face, b_face).value,
           "psnr_mouth": psnr(a_mouth, b_mouth).value}
    try:
        out["lpips_face"] = float(np.mean(lpips_distance(a_face, b_face)))
    except LPIPSUnavailable:
        out["lpips_face"] = None
    lips = MediaPipeLips()
    real_lips, fake_lips = lips.lips(real, real_track), lips.lips(fake, fake_track)
    real_lips[~scored], fake_lips[~scored] = np.nan, np.nan
    out["lmd"] = lmd(real_lips, real_track, fake_lips, np.array([[1.0, 0, 0], [0, 1, 0]])).value
    out["gap_corr"] = finite_corr(mouth_open(fake_track)[scored], mouth_open(real_track)[scored])
    out["frames"] = int(len(a_face))
    return out


def main(video: Path, start_s: float, split_s: float, end_s: float, steps: int, max_frames: int, hold_s: float,
         side: int, talk_size: int, cache: Path, out: Path | None = None, sheet: Path | None = None) -> dict:
    """Run the protocol (module docstring); prints the table, returns the result dict (also written to `out`)."""
    from vasa3d.config import FitConfig, MotionConfig
    from vasa3d.io import read_video
    from vasa3d.io.image import write_image
    from vasa3d.io.media import file_sha256
    from vasa3d.motion import motion_from_audio
    from vasa3d.pipeline import build_avatar
    from vasa3d.video_mode import finite_corr, fit_from_photos, fit_from_video, read_clip, reenact

    from eval.metrics.mouth import mouth_open
    from eval.speech_check import rendered_gap
    from eval.tracking import track_video

    from tqdm import tqdm

    bar = tqdm(total=11, unit="step", desc="fit-check", file=sys.stderr)

    def step(message: str):
        bar.set_postfix_str(message)
        return lambda fraction, detail: bar.set_postfix_str(f"{message}: {100 * fraction:.0f}% {detail}"[:70])

    t0 = time.perf_counter()
    video = Path(video).resolve()
    digest = file_sha256(video)[:16]
    config = FitConfig(steps=steps, max_frames=max_frames)
    timings: dict[str, float] = {}
    avatars = {}

    def timed(name, fn):
        t = time.perf_counter()
        value, hit = fn()
        timings[name + ("_cached" if hit else "_s")] = round(time.perf_counter() - t, 1)
        bar.update(1)
        return value

    keys = {"fitted": _key(digest, start_s, split_s, asdict(config))}
    tick = step("fitting the video")
    avatars["fitted"] = timed("fit_video", lambda: _cached(
        cache, "fitted", keys["fitted"], lambda: fit_from_video(video, start_s, split_s, config, progress=tick)[0]))
    train = read_clip(video, start_s, split_s)
    picks = pick_photos(train.frames, train.fps)
    photo_paths = []
    for k, i in enumerate(picks):
        p = cache / f"photo{k}-{digest}-{i}.png"
        if not p.is_file():
            cache.mkdir(parents=True, exist_ok=True)
            write_image(p, train.frames[i])
        photo_paths.append(p)
    keys["photos3"] = _key(digest, picks, asdict(config))
    tick = step("fitting three photos")
    avatars["photos3"] = timed("fit_photos", lambda: _cached(
        cache, "photos3", keys["photos3"], lambda: fit_from_photos(photo_paths, config, progress=tick)[0]))
    keys["closed"] = _key(digest, picks[0])
    step("building the closed-mouth photo's avatar")
    avatars["closed"] = timed("build_closed", lambda: _cached(
        cache, "closed", keys["closed"], lambda: build_avatar(train.frames[picks[0]])))
    test = read_clip(video, split_s, end_s)
    keys["photo"] = _key(digest, split_s)
    step("building the single-photo avatar")
    avatars["photo"] = timed("build_photo", lambda: _cached(
        cache, "photo", keys["photo"], lambda: build_avatar(test.frames[0])))
    del train

    real, fps = test.frames, test.fps
    real_track = track_video(real, fps)
    T = len(real)
    hold = max(1, int(round(hold_s * fps)))
    scored = np.ones(T, bool)
    scored[::hold] = False
    rows: dict[str, dict] = {}
    videos: dict[str, np.ndarray] = {}
    step("scoring the still frame")
    static = np.stack([real[(i // hold) * hold] for i in range(T)])
    rows["static"] = score_reenact(real, static, real_track, track_video(static, fps), scored, side)
    videos["static"] = static
    bar.update(1)
    for name, avatar in avatars.items():
        t = time.perf_counter()
        path = cache / f"{name}-reenact-{_key(keys[name], digest, split_s, end_s)}.mp4"
        if not path.is_file():
            reenact(avatar, video, path, split_s, end_s, same_person=True, progress=step(f"{name}: reenact"))
        frames, _ = read_video(path)
        frames = frames[:T]
        rows[name + "@reenact"] = score_reenact(real, frames, real_track, track_video(frames, fps), scored, side)
        videos[name + "@reenact"] = frames
        timings[name + "_reenact_s"] = round(time.perf_counter() - t, 1)
        bar.update(1)
    real_gap = mouth_open(real_track)
    motion_config = MotionConfig(fps=fps)
    for name in ("fitted", "photo"):
        avatar = avatars[name]
        t = time.perf_counter()
        step(f"{name}: talk from the held-out audio")
        motion = motion_from_audio(test.audio, AUDIO_RATE, None, config=motion_config, num_frames=T,
                                   personal=avatar.speech_model)
        gap, frames = rendered_gap(avatar, motion, talk_size, return_frames=True)
        rows[name + "@talk"] = {"gap_corr": finite_corr(gap[scored], real_gap[scored]),
                                "speech_model": "personal" if avatar.speech_model is not None else "generic"}
        videos[name + "@talk"] = frames
        timings[name + "_talk_s"] = round(time.perf_counter() - t, 1)
        bar.update(1)
    bar.close()
    result = {"video": str(video), "fit_s": [start_s, split_s], "held_out_s": [split_s, end_s], "frames": T,
              "scored_frames": int(scored.sum()), "photos": {"frames_s": [round(start_s + i / fps, 2) for i in picks]},
              "settings": {"steps": steps, "max_frames": max_frames, "hold_s": hold_s, "crop_px": side},
              "rows": rows, "timings": timings, "wall_s": round(time.perf_counter() - t0, 1)}
    text = json.dumps(result, indent=1)
    print(text)
    print(table(rows))
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
    if sheet is not None:
        contact_sheet(sheet, real, videos, fps, split_s)
    return result


COLUMNS = ("psnr_face", "ssim_face", "lpips_face", "psnr_mouth", "lmd", "gap_corr")


def table(rows: dict[str, dict]) -> str:
    """The held-out table as Markdown (rows x `COLUMNS`; '-' where a figure does not apply)."""
    def cell(v):
        return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| row | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    lines += [f"| {name} | " + " | ".join(cell(r.get(c)) for c in COLUMNS) + " |" for name, r in rows.items()]
    return "\n".join(lines)


def contact_sheet(path: Path, real: np.ndarray, videos: dict[str, np.ndarray], fps: float, start_s: float) -> Path:
    """A PNG grid: one row per held-out time (SHEET_TIMES, spread over the part), columns real | each video."""
    import cv2

    from vasa3d.io.image import write_image

    T = len(real)
    cell = 160
    names = ["real"] + list(videos)
    times = np.linspace(0, T - 1, SHEET_TIMES + 2)[1:-1].round().astype(int)
    header = np.full((24, cell * len(names), 3), 255, np.uint8)
    for k, n in enumerate(names):
        cv2.putText(header, n, (k * cell + 4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    rows = [header]
    for t in times:
        cells = []
        for n in names:
            f = real[t] if n == "real" else videos[n][min(t, len(videos[n]) - 1)]
            h, w = f.shape[:2]
            s = cell / max(h, w)
            img = cv2.resize(f, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
            pad = np.full((cell, cell, 3), 255, np.uint8)
            pad[(cell - img.shape[0]) // 2:][:img.shape[0], (cell - img.shape[1]) // 2:][:, :img.shape[1]] = img
            cells.append(pad)
        row = np.concatenate(cells, axis=1)
        cv2.putText(row, f"{start_s + t / fps:.1f} s", (4, cell - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1,
                    cv2.LINE_AA)
        rows.append(row)
    footer = np.full((20, cell * len(names), 3), 255, np.uint8)
    cv2.putText(footer, "GRID corpus (Cooke et al. 2006), CC BY 4.0", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                (0, 0, 0), 1, cv2.LINE_AA)
    write_image(path, np.concatenate(rows + [footer], axis=0))
    return path
