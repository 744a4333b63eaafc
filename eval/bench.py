"""Benchmark cases: the on-disk layout, reading it, and `make-bench` from the project's shared data.

Layout: `BENCH/<case>/portrait.(png|jpg|jpeg|webp)`, `audio.(wav|mp3|flac|m4a)`, optional `transcript.txt` (the
words spoken) and optional `video.mp4` (ground truth: the same person saying the audio, whose first frame is the
portrait). `BENCH/README.md` records where every file came from and its licence.

`make_bench` builds a small development benchmark: portraits x English speech clips (cross-identity cases, no
ground truth), and self-reenactment cases cut from the GRID video (portrait = the sentence's first frame,
audio = its sound, transcript = its words, video.mp4 = the clip).
"""

from __future__ import annotations

import csv
import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PORTRAIT_EXTS = (".png", ".jpg", ".jpeg", ".webp")
AUDIO_EXTS = (".wav", ".mp3", ".flac", ".m4a", ".ogg")
DEFAULT_PORTRAITS = ("p02_obama_official.jpg", "p03_biden_official.jpg", "p06_grid_older_woman.png")
DEFAULT_CLIPS = ("a01_en_jfk_inaugural", "a02_en_ljspeech_LJ001-0001")
DEFAULT_GRID_SENTENCES = ("bbaf2n", "bbbf8p")
GRID_VIDEO = "video/v01_grid_s1_concat60s.mp4"
GRID_TSV = "video/v01_grid_s1_concat60s.transcript.tsv"
GRID_CREDIT = ("GRID audiovisual sentence corpus, CC BY 4.0: M. Cooke, J. Barker, S. Cunningham & X. Shao (2006), "
               "\"An audio-visual corpus for speech perception and automatic speech recognition\", "
               "J. Acoust. Soc. Am. 120(5), 2421-2424")
CASE_AUDIO_SR = 16000
LICENCES = {
    "p01": "public domain (NASA photo of Eileen Collins, via scikit-image)",
    "p02": "public domain (US government work: 2012 White House portrait)",
    "p03": "public domain (US government work: official portrait)",
    "p04": "public domain by age (Albert Einstein, c. 1904)",
    "p05": "CC BY 4.0 (GRID corpus)", "p06": "CC BY 4.0 (GRID corpus)", "p07": "CC BY 4.0 (GRID corpus)",
    "a01": "public domain (US government work: J. F. Kennedy, inaugural address 1961)",
    "a02": "public domain (LJ Speech dataset, K. Ito & L. Johnson 2017)",
    "a09": "Apache-2.0 (AISHELL-1 corpus)",
    "grid": "CC BY 4.0 (GRID corpus)",
}
"""Terms of the shared data files by their prefix (from the data folder's SOURCES.md)."""


@dataclass(frozen=True)
class Case:
    """One benchmark case: name, portrait and audio paths, transcript text (or None), ground-truth video (or None)."""

    name: str
    portrait: Path
    audio: Path
    transcript: str | None
    video: Path | None


def _first(folder: Path, stem: str, exts) -> Path | None:
    for ext in exts:
        p = folder / f"{stem}{ext}"
        if p.exists():
            return p
    return None


def load_cases(bench: Path, only: list[str] | None = None) -> list[Case]:
    """The cases of benchmark folder `bench` in name order (folders without a portrait and an audio file are
    skipped). `only`: keep these case names. Raises FileNotFoundError when `bench` has no case."""
    bench = Path(bench)
    cases = []
    for d in sorted(p for p in bench.iterdir() if p.is_dir()) if bench.is_dir() else []:
        portrait, audio = _first(d, "portrait", PORTRAIT_EXTS), _first(d, "audio", AUDIO_EXTS)
        if portrait is None or audio is None or (only and d.name not in only):
            continue
        tr = d / "transcript.txt"
        text = tr.read_text(encoding="utf-8").strip() if tr.exists() else None
        video = d / "video.mp4"
        cases.append(Case(d.name, portrait, audio, text or None, video if video.exists() else None))
    if not cases:
        raise FileNotFoundError(f"no benchmark cases (<case>/portrait.* + audio.*) in '{bench}'")
    return cases


def _link(src: Path, dst: Path) -> None:
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    os.symlink(src.resolve(), dst)


def _grid_sentences(data: Path) -> dict[str, tuple[float, float, str]]:
    """{sentence id: (start_s, end_s, words)} from the GRID transcript TSV."""
    out = {}
    with open(data / GRID_TSV, encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            out[Path(row["grid_clip"]).stem] = (float(row["start_s"]), float(row["end_s"]), row["transcript"])
    return out


def _grid_case(data: Path, case_dir: Path, start_s: float, end_s: float, words: str) -> None:
    """Cut one sentence [start_s, end_s) of the GRID video into a self-reenactment case in `case_dir`."""
    from vasa3d.io import iter_video_frames, probe_media, read_audio, write_image, write_video, write_wav

    fps = probe_media(data / GRID_VIDEO).video.fps
    a, b = int(round(start_s * fps)), int(round(end_s * fps))
    clip = np.stack(list(itertools.islice(iter_video_frames(data / GRID_VIDEO), a, b)))
    wave = read_audio(data / GRID_VIDEO, sr=CASE_AUDIO_SR)
    sound = wave[int(round(start_s * CASE_AUDIO_SR)):int(round(end_s * CASE_AUDIO_SR))]
    write_image(case_dir / "portrait.png", clip[0].astype(np.float32) / 255.0)
    write_wav(case_dir / "audio.wav", sound, CASE_AUDIO_SR)
    (case_dir / "transcript.txt").write_text(words + "\n", encoding="utf-8")
    write_video(case_dir / "video.mp4", clip, fps, sound, CASE_AUDIO_SR, crf=10)


def _case_name(portrait: str, clip: str) -> str:
    """"p02_obama_official.jpg", "a01_en_jfk_inaugural" -> "p02_obama__a01_jfk"."""
    p, c = Path(portrait).stem.split("_"), clip.split("_")
    return "_".join(p[:2]) + "__" + "_".join([c[0]] + c[2:3])


def make_bench(data: Path, out: Path, portraits=DEFAULT_PORTRAITS, clips=DEFAULT_CLIPS,
               grid_sentences=DEFAULT_GRID_SENTENCES) -> list[Case]:
    """Build the development benchmark in `out` from the shared data folder `data` (see the module docstring).

    Portrait, audio and transcript files of cross-identity cases are symlinks into `data`; GRID cases are cut
    and written. Returns the cases. Raises FileNotFoundError for a missing source file.
    """
    data, out = Path(data), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for p in portraits:
        src_p = data / "portraits" / p
        for c in clips:
            src_a, src_t = data / "audio" / f"{c}.wav", data / "audio" / f"{c}.txt"
            for f in (src_p, src_a):
                if not f.exists():
                    raise FileNotFoundError(f"missing source file '{f}'")
            name = _case_name(p, c)
            d = out / name
            d.mkdir(exist_ok=True)
            _link(src_p, d / f"portrait{src_p.suffix.lower()}")
            _link(src_a, d / "audio.wav")
            if src_t.exists():
                _link(src_t, d / "transcript.txt")
            terms = f"portrait: {_terms(p)}; audio: {_terms(c)}"
            rows.append((name, f"portraits/{p}", f"audio/{c}.wav" + (" + .txt" if src_t.exists() else ""), "-", terms))
    sentences = _grid_sentences(data)
    for sid in grid_sentences:
        start_s, end_s, words = sentences[sid]
        name = f"grid_s1_{sid}"
        d = out / name
        d.mkdir(exist_ok=True)
        _grid_case(data, d, start_s, end_s, words)
        rows.append((name, f"{GRID_VIDEO} frame at {start_s:.1f} s", f"{GRID_VIDEO} {start_s:.1f}-{end_s:.1f} s",
                     f"{GRID_VIDEO} {start_s:.1f}-{end_s:.1f} s (\"{words}\")", _terms("grid")))
    _write_readme(out, data, rows)
    return load_cases(out)


def _terms(name: str) -> str:
    return LICENCES.get(Path(name).stem.split("_")[0], "see the data folder's SOURCES.md")


def _write_readme(out: Path, data: Path, rows: list[tuple[str, ...]]) -> None:
    lines = [
        "# Development benchmark (written by `python -m eval make-bench`)", "",
        f"Built from `{data}` (see its SOURCES.md for every file's origin). Cross-identity cases link to the",
        "source files; self-reenactment cases (`grid_*`) are cut from the GRID video: portrait = the sentence's first",
        "frame, audio = its sound (16 kHz mono), transcript = its words, video.mp4 = the clip (H.264 CRF 10 + AAC).",
        "", "| case | portrait | audio (+ transcript) | ground-truth video | terms |", "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += [
        "", "## Credits", "",
        f"The `grid_*` cases and the p05-p07 portraits come from the {GRID_CREDIT}. Any output that shows GRID "
        "material (videos, montages, reports) must carry this credit.", "",
    ]
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")
