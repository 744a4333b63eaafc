"""Remake the committed test inputs in tests/data from the team's development data (see SOURCES.md).

Run from the repository root: `python tests/data/make.py [../shared/data]`. Not needed to run the tests; it records
how every file here was made (the "made from" column of SOURCES.md).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import av
from PIL import Image

from vasa3d.io import read_audio, write_wav

HERE = Path(__file__).resolve().parent
GRID_FRAMES = 75        # the first sentence of the GRID video, bbaf2n: 3 s at 25 fps
GRID_AUDIO_S = 3.1      # its sound, a little past the last frame


def portraits(src: Path, dst: Path) -> None:
    """p01 PNG -> JPEG (quality 90, same size); p02-p04 copied byte for byte; p05-p07 PNG re-compressed (same pixels).

    p02 and p03 stay as they are: the head-model figures tracked on renders of them move with any resampling or
    re-encoding of the photo (e.g. p02's blink ratio 0.064 -> 0.168 when downscaled x0.8), and p02 sets most
    avatar tests' margins."""
    dst.mkdir(parents=True, exist_ok=True)
    Image.open(src / "p01_astronaut_eileen_collins.png").convert("RGB").save(
        dst / "p01_astronaut_eileen_collins.jpg", quality=90, optimize=True)
    for name in ("p02_obama_official.jpg", "p03_biden_official.jpg", "p04_einstein_bw.jpg"):
        shutil.copy(src / name, dst)
    for name in ("p05_grid_man_moustache.png", "p06_grid_older_woman.png", "p07_grid_man_glasses.png"):
        Image.open(src / name).save(dst / name, optimize=True)


def audio(src: Path, dst: Path) -> None:
    """The English clips as 16 kHz mono 16-bit WAV (whole); the Mandarin clip (already 16 kHz mono) copied."""
    dst.mkdir(parents=True, exist_ok=True)
    for stem in ("a01_en_jfk_inaugural", "a02_en_ljspeech_LJ001-0001"):
        write_wav(dst / f"{stem}.wav", read_audio(src / f"{stem}.wav", sr=16000), 16000)
        shutil.copy(src / f"{stem}.txt", dst)
    for f in ("a09_zh_aishell_BAC009S0764W0121.wav", "a09_zh_aishell_BAC009S0764W0121.txt"):
        shutil.copy(src / f, dst)


def grid_excerpt(src: Path, dst: Path) -> None:
    """Copy the packets of the GRID video's first sentence (no re-encoding, so the frames decode to the same pixels):
    the shortest decode-order prefix from the first keyframe whose frames are exactly 0..N-1 with N >= GRID_FRAMES,
    and the audio packets that start before GRID_AUDIO_S; then its transcript row."""
    dst.mkdir(parents=True, exist_ok=True)
    with av.open(str(src / "v01_grid_s1_concat60s.mp4")) as inp:
        vin, ain = inp.streams.video[0], inp.streams.audio[0]
        fps = vin.average_rate
        packets = [p for p in inp.demux(vin) if p.dts is not None]
        inp.seek(0)
        sound = [p for p in inp.demux(ain) if p.pts is not None and float(p.pts * p.time_base) < GRID_AUDIO_S]
        seen: set[int] = set()
        for n, p in enumerate(packets, 1):
            seen.add(round(float(p.pts * p.time_base * fps)))
            if len(seen) >= GRID_FRAMES and seen == set(range(len(seen))):
                break
        with av.open(str(dst / "v01_grid_s1_first3s.mp4"), "w") as out:
            vout, aout = out.add_stream_from_template(vin), out.add_stream_from_template(ain)
            for stream, chosen in ((vout, packets[:n]), (aout, sound)):
                for p in chosen:
                    p.stream = stream
                    out.mux(p)
    rows = (src / "v01_grid_s1_concat60s.transcript.tsv").read_text(encoding="utf-8").splitlines()
    (dst / "v01_grid_s1_first3s.transcript.tsv").write_text("\n".join(rows[:2]) + "\n", encoding="utf-8")


def main(src: Path) -> None:
    portraits(src / "portraits", HERE / "portraits")
    audio(src / "audio", HERE / "audio")
    grid_excerpt(src / "video", HERE / "video")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "data")
