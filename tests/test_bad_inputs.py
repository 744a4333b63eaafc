"""The bad-input corpus: every user mistake found by trying vasa3d as a new user would, through the CLI
(`vasa3d.cli.main`: exit code 2 and one `error: ...` line) and the Python API (`TalkingHeadPipeline.run`:
`InputError`). Each case checks that the message names the problem, that option and path errors come within
2 s and before any face analysis, that no output or temporary file is left, and that the inputs are unchanged.

The bad files are generated here (an 80-megapixel PNG is a crafted header, never decoded). A few cases that are
accepted (16-bit, CMYK, RGBA, three faces, silence, 0.1 s) use the face model or the motion stage briefly."""

from __future__ import annotations

import hashlib
import math
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import data
from PIL import Image

from vasa3d.cli import main
from vasa3d.errors import InputError
from vasa3d.io.audio import write_wav
from vasa3d.pipeline import TalkingHeadPipeline, TalkRequest

FAST_S = 2.0     # option and path errors must come this quickly


# ------------------------------------------------------------------ corpus files (made in the test)
def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims width x height pixels, followed by 1 px of data: only the header is valid,
    so any decoding attempt fails with 'damaged' instead of the size error."""
    Image.new("RGB", (32, 32)).save(path)
    png = bytearray(path.read_bytes())
    ihdr = png[12:29]
    ihdr[4:12] = struct.pack(">II", width, height)
    png[12:29] = ihdr
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    path.write_bytes(bytes(png))
    return path


def _wav_header_plus_random(path: Path, n_random: int = 30) -> Path:
    """A wav header announcing 1 s of 16 kHz mono, followed by `n_random` random bytes."""
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
    header = b"RIFF" + struct.pack("<I", 36 + 32000) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", 32000)
    path.write_bytes(header + np.random.default_rng(0).bytes(n_random))
    return path


@pytest.fixture
def work(tmp_path):
    """A folder holding a valid small portrait copy and a 1 s speech-like wav; returns (folder, image, audio)."""
    image = tmp_path / "portrait.jpg"
    image.write_bytes(data("portraits/p04_einstein_bw.jpg").read_bytes())
    audio = write_wav(tmp_path / "speech.wav", 0.2 * np.sin(np.linspace(0, 2000, 16000, dtype=np.float32)), 16000)
    return tmp_path, image, audio


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.iterdir())}


def _cli(argv: list[str], capsys) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err.strip().splitlines()
    return code, (err[-1] if err else ""), elapsed


@pytest.fixture
def no_face_analysis(monkeypatch):
    """Makes any face analysis fail the test: option and path errors must come before it."""
    import vasa3d.face.analysis as analysis
    from vasa3d.avatar import Avatar

    def forbidden(*args, **kwargs):
        raise AssertionError("face analysis started before the input was checked")

    monkeypatch.setattr(analysis, "analyze_face", forbidden)
    monkeypatch.setattr(Avatar, "from_image", forbidden)


# ------------------------------------------------------------------ option and path errors (no face model)
# (CLI arguments after IMAGE AUDIO, with OUT replaced by the output path; words the message must contain)
OPTION_CASES = {
    "parent folder missing": (["-o", "{dir}/no_such_dir/x.mp4"], ["no_such_dir", "does not exist"]),
    "output is a folder": (["-o", "{dir}"], ["is a folder"]),
    "output is the portrait": (["-o", "{image}"], ["one of the inputs"]),
    "output is the audio": (["-o", "{audio}"], ["one of the inputs"]),
    "suffix .avi": (["-o", "{dir}/x.avi"], ["must end in .mp4"]),
    "no suffix": (["-o", "{dir}/x"], ["must end in .mp4"]),
    "expression scale -1": (["-o", "{out}", "--expression-scale", "-1"], ["expression scale", "between 0 and 3"]),
    "expression scale nan": (["-o", "{out}", "--expression-scale", "nan"], ["expression scale", "finite"]),
    "expression scale 100": (["-o", "{out}", "--expression-scale", "100"], ["expression scale", "between 0 and 3"]),
    "head-motion scale inf": (["-o", "{out}", "--head-motion-scale", "inf"], ["head-motion scale", "finite"]),
    "yaw nan": (["-o", "{out}", "--yaw-deg", "nan"], ["yaw", "finite"]),
    "pitch nan": (["-o", "{out}", "--pitch-deg", "nan"], ["pitch", "finite"]),
    "yaw 120": (["-o", "{out}", "--yaw-deg", "120"], ["yaw", "-90 and 90"]),
    "size odd": (["-o", "{out}", "--size", "255"], ["size", "even"]),
    "size 8": (["-o", "{out}", "--size", "8"], ["size", "64 and 2048"]),
    "fps 0": (["-o", "{out}", "--fps", "0"], ["fps", "between 1 and 60"]),
    "fps nan": (["-o", "{out}", "--fps", "nan"], ["fps", "finite"]),
    "seed -1": (["-o", "{out}", "--seed", "-1"], ["seed"]),
}


def _fill(args: list[str], folder: Path, image: Path, audio: Path) -> list[str]:
    return [a.format(dir=folder, image=image, audio=audio, out=folder / "out.mp4") for a in args]


@pytest.mark.parametrize("case", list(OPTION_CASES))
def test_option_and_path_errors_cli(case, work, capsys, no_face_analysis):
    folder, image, audio = work
    if case == "output is the audio":       # speech given as a video's sound: an .mp4 input
        audio = _video_with_sound(folder / "speech.mp4")
    args, words = OPTION_CASES[case]
    before = _snapshot(folder)
    code, line, elapsed = _cli(["talk", str(image), str(audio), *_fill(args, folder, image, audio)], capsys)
    assert code == 2 and line.startswith("error: ")
    assert all(w in line for w in words), line
    assert elapsed < FAST_S
    assert _snapshot(folder) == before      # nothing written, the inputs byte-identical


def _video_with_sound(path: Path) -> Path:
    from vasa3d.io import write_video

    frames = (np.zeros((64, 64, 3), np.uint8) for _ in range(5))
    return write_video(path, frames, 25, 0.1 * np.sin(np.arange(8000) / 5).astype(np.float32), 16000)


# the same through the Python API: TalkRequest fields
API_CASES = {
    "parent folder missing": ({"output": "{dir}/no_such_dir/x.mp4"}, ["does not exist"]),
    "output is a folder": ({"output": "{dir}"}, ["is a folder"]),
    "output is the portrait": ({"output": "{image}"}, ["one of the inputs"]),
    "suffix .avi": ({"output": "{dir}/x.avi"}, [".mp4"]),
    "expression scale -1": ({"expression_scale": -1.0}, ["expression scale"]),
    "expression scale nan": ({"expression_scale": math.nan}, ["expression scale", "finite"]),
    "expression scale 100": ({"expression_scale": 100.0}, ["expression scale"]),
    "head-motion scale inf": ({"head_motion_scale": math.inf}, ["head-motion scale", "finite"]),
    "yaw nan": ({"yaw_deg": math.nan}, ["yaw"]),
    "pitch nan": ({"pitch_deg": math.nan}, ["pitch"]),
    "camera path spin": ({"camera_path": "spin"}, ["camera path", "fixed, orbit, sway"]),
    "backend vulkan": ({"backend": "vulkan"}, ["backend"]),
    "size as text": ({"size": "512"}, ["size", "number"]),
    "size odd": ({"size": 255}, ["size", "even"]),
    "seed 1.5": ({"seed": 1.5}, ["seed", "whole number"]),
    "fps 1000": ({"fps": 1000.0}, ["fps"]),
    "transcript not text": ({"transcript": 42}, ["transcript"]),
    "no image": ({"image": None}, ["portrait"]),
    "no output": ({"output": None}, ["output"]),
}


@pytest.mark.parametrize("case", list(API_CASES))
def test_option_and_path_errors_api(case, work, no_face_analysis):
    folder, image, audio = work
    fields, words = API_CASES[case]
    values = {"image": str(image), "audio": str(audio), "output": folder / "out.mp4"}
    for key, value in fields.items():
        values[key] = value.format(dir=folder, image=image) if isinstance(value, str) and "{" in value else value
    before = _snapshot(folder)
    t0 = time.perf_counter()
    with pytest.raises(InputError) as info:
        TalkingHeadPipeline().run(TalkRequest(**values))
    assert time.perf_counter() - t0 < FAST_S
    assert all(w in str(info.value) for w in words), str(info.value)
    assert _snapshot(folder) == before


def test_cli_error_is_one_line_within_2_s_in_a_fresh_process(work):
    """The real console command: a fresh interpreter, exit 2, exactly one stderr line, no traceback."""
    folder, image, audio = work
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "vasa3d.cli", "talk", str(image), str(audio), "-o",
                           str(folder / "o.mp4"), "--expression-scale", "nan"], capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["error: expression scale must be a finite number between 0 and 3, "
                                                "got nan"]
    assert elapsed < FAST_S and not (folder / "o.mp4").exists()


@pytest.mark.parametrize("argv, words", [
    (["talk", "a.jpg", "b.wav", "-o", "x.mp4", "--size", "abc"], "invalid int value: 'abc'"),
    (["talk", "a.jpg"], "required: audio, -o/--output"),
    (["talk", "a.jpg", "b.wav", "-o", "x.mp4", "--camera-path", "spin"], "invalid choice: 'spin'"),
])
def test_usage_mistakes_are_one_line_and_exit_2(argv, words, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert info.value.code == 2 and len(err) == 1 and err[0].startswith("error: ") and words in err[0]


# ------------------------------------------------------------------ damaged or wrong input files
def _make_input(kind: str, folder: Path, image: Path, audio: Path) -> tuple[Path, Path]:
    """(image, audio) for an input-file case; the bad one is generated in `folder`."""
    if kind == "empty image":
        return _touch(folder / "empty.jpg"), audio
    if kind == "truncated jpeg":
        data = image.read_bytes()
        (folder / "cut.jpg").write_bytes(data[: len(data) // 3])
        return folder / "cut.jpg", audio
    if kind == "text as jpg":
        (folder / "text.jpg").write_text("this is not a photo\n")
        return folder / "text.jpg", audio
    if kind == "1x1 image":
        Image.new("RGB", (1, 1)).save(folder / "dot.png")
        return folder / "dot.png", audio
    if kind == "80 megapixels":
        return _png_claiming(folder / "huge.png", 10_000, 8_000), audio
    if kind == "image missing":
        return folder / "nope.jpg", audio
    if kind == "image is a folder":
        (folder / "sub").mkdir()
        return folder / "sub", audio
    if kind == "audio missing":
        return image, folder / "nope.wav"
    if kind == "swapped image and audio":
        return audio, image
    if kind == "empty audio":
        return image, write_wav(folder / "empty.wav", np.zeros(0, np.float32), 16000)
    if kind == "corrupt wav":
        (folder / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVE" + b"junk" * 8)
        return image, folder / "corrupt.wav"
    if kind == "wav header + 30 random bytes":
        return image, _wav_header_plus_random(folder / "random.wav")
    if kind == "0.05 s audio":
        return image, write_wav(folder / "blip.wav", 0.3 * np.ones(800, np.float32), 16000)
    raise KeyError(kind)


def _touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path


FILE_CASES = {  # case -> words the message must contain
    "empty image": ["empty.jpg", "empty (0 bytes)"],
    "truncated jpeg": ["cut.jpg", "damaged or truncated"],
    "text as jpg": ["text.jpg", "not a JPEG/PNG"],
    "1x1 image": ["dot.png", "too small"],
    "80 megapixels": ["huge.png", "too large", "80 megapixels"],
    "image missing": ["nope.jpg", "does not exist"],
    "image is a folder": ["sub", "directory"],
    "audio missing": ["nope.wav", "does not exist"],
    "swapped image and audio": ["looks like an audio file", "portrait first"],
    "empty audio": ["empty.wav", "empty"],
    "corrupt wav": ["corrupt.wav", "could not decode"],
    "wav header + 30 random bytes": ["random.wav", "too short"],
    "0.05 s audio": ["blip.wav", "too short"],
}


@pytest.mark.parametrize("case", list(FILE_CASES))
@pytest.mark.parametrize("via", ["cli", "api"])
def test_bad_input_files(case, via, work, capsys, no_face_analysis):
    folder, image, audio = work
    image, audio = _make_input(case, folder, image, audio)
    out = folder / "out.mp4"
    before = _snapshot(folder)
    t0 = time.perf_counter()
    if via == "cli":
        code, message, _ = _cli(["talk", str(image), str(audio), "-o", str(out)], capsys)
        assert code == 2 and message.startswith("error: ")
    else:
        with pytest.raises(InputError) as info:
            TalkingHeadPipeline().run(TalkRequest(image=str(image), audio=str(audio), output=out))
        message = str(info.value)
    assert time.perf_counter() - t0 < FAST_S
    assert all(w in message for w in FILE_CASES[case]), message
    assert "Errno" not in message and "Traceback" not in message
    assert _snapshot(folder) == before


def test_80_megapixels_are_refused_from_the_header_without_decoding(tmp_path, monkeypatch):
    """The size error comes from the header: the crafted file has no pixel data, and decoding is forbidden."""
    from PIL import ImageFile

    from vasa3d.io.image import probe_image, read_image

    huge = _png_claiming(tmp_path / "huge.png", 10_000, 8_000)

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    for reader in (probe_image, read_image):
        with pytest.raises(InputError, match="too large.*80 megapixels"):
            reader(huge)


# ------------------------------------------------------------------ other commands
def test_render_checks_its_options_first_and_honours_fps(tmp_path, capsys, obama_avatar):
    from vasa3d.io import probe_media
    from vasa3d.motion import MotionSequence

    avatar, motion = tmp_path / "a.npz", tmp_path / "m.npz"
    obama_avatar.save(avatar)
    MotionSequence.rest(10, 25.0).save(motion)       # 0.4 s
    before = _snapshot(tmp_path)
    for args, words in [(["--fps", "0"], ["fps"]), (["--size", "63"], ["size"]), (["--yaw-deg", "nan"], ["yaw"]),
                        (["--pitch-deg", "75"], ["pitch"]), (["-o", str(tmp_path / "x.avi")], [".mp4"]),
                        (["-o", str(avatar)], ["one of the inputs"])]:
        argv = ["render", str(avatar), str(motion), "-o", str(tmp_path / "r.mp4"), *args]
        code, line, elapsed = _cli(argv, capsys)
        assert code == 2 and all(w in line for w in words) and elapsed < FAST_S, line
    assert _snapshot(tmp_path) == before
    code, _, _ = _cli(["render", str(avatar), str(motion), "-o", str(tmp_path / "r.mp4"), "--fps", "10",
                       "--size", "64"], capsys)
    info = probe_media(tmp_path / "r.mp4")
    assert code == 0 and info.video.n_frames == 4 and info.video.fps == pytest.approx(10)


@pytest.mark.parametrize("argv, words", [
    (["build", "{image}", "-o", "{dir}/a.ply"], [".npz"]),
    (["build", "{image}", "-o", "{image}"], ["one of the inputs"]),
    (["motion", "{audio}", "-o", "{audio}"], ["one of the inputs"]),
    (["motion", "{audio}", "-o", "{dir}/m.csv"], [".npz or .json"]),
    (["pose", "{image}", "-o", "{dir}/p.mp4"], [".png"]),
    (["pose", "{image}", "-o", "{dir}/p.png", "--yaw-deg", "nan"], ["yaw"]),
    (["pose", "{image}", "-o", "{dir}/p.png", "--set", "jawOpen=nan"], ["finite"]),
    (["expressions", "{audio}", "-o", "{dir}/e.png"], ["looks like an audio file"]),
    (["say", "hello", "-o", "{dir}/missing/s.wav"], ["does not exist"]),
])
def test_other_commands_check_paths_first(argv, words, work, capsys, no_face_analysis):
    folder, image, audio = work
    before = _snapshot(folder)
    code, line, elapsed = _cli([a.format(dir=folder, image=image, audio=audio) for a in argv], capsys)
    assert code == 2 and all(w in line for w in words) and elapsed < FAST_S, line
    assert _snapshot(folder) == before


# ------------------------------------------------------------------ unusual but valid inputs are accepted
@pytest.mark.parametrize("kind", ["16-bit", "CMYK", "RGBA", "three faces"])
def test_unusual_images_are_read_and_a_face_is_found(kind, tmp_path, obama_path):
    from vasa3d.face.analysis import analyze_face
    from vasa3d.io import read_image

    photo = Image.open(obama_path).convert("RGB")
    photo.thumbnail((480, 480))
    if kind == "16-bit":
        grey = (np.asarray(photo.convert("L"), np.uint16) * 257).astype(np.uint16)
        path = tmp_path / "p16.png"
        Image.fromarray(grey).save(path)          # mode I;16
    elif kind == "CMYK":
        path = tmp_path / "cmyk.jpg"
        photo.convert("CMYK").save(path)
    elif kind == "RGBA":
        path = tmp_path / "rgba.png"
        photo.convert("RGBA").save(path)
    else:  # the largest of three faces is used
        path = tmp_path / "three.png"
        canvas = Image.new("RGB", (3 * photo.width, photo.height))
        for i, scale in enumerate((0.6, 1.0, 0.7)):
            tile = photo.resize((int(photo.width * scale), int(photo.height * scale)))
            canvas.paste(tile, (i * photo.width, 0))
        canvas.save(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    obs = analyze_face(read_image(path))
    assert obs.landmarks_px.shape[0] == 478
    if kind == "three faces":
        x_centre = obs.crop_box[0] + obs.crop_box[2] / 2
        assert photo.width < x_centre < 2 * photo.width         # the middle, largest face
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize("seconds", [2.0, 0.1])
def test_silence_and_a_tenth_of_a_second_make_motion(seconds, tmp_path, capsys):
    wav = write_wav(tmp_path / "s.wav", np.zeros(int(seconds * 16000), np.float32), 16000)
    code = main(["motion", str(wav), "-o", str(tmp_path / "m.npz")])
    assert code == 0 and (tmp_path / "m.npz").is_file()


# ------------------------------------------------------------------ help, quiet logs
def test_help_shows_every_option_with_its_default_and_examples(capsys):
    with pytest.raises(SystemExit):
        main(["talk", "--help"])
    text = capsys.readouterr().out
    for option, default in [("--expression-scale", "1.0"), ("--head-motion-scale", "1.0"), ("--seed", "0"),
                            ("--fps", "25.0"), ("--size", "512"), ("--yaw-deg", "0.0"), ("--camera-path", "fixed")]:
        options = text[text.index("options:"):]
        block = " ".join(options[options.index("  " + option + " "):].split()[:40])
        assert f"(default: {default})" in block.split(" --")[0], option
    for word in ("portrait photo", "speech (", "video to write"):
        assert word in text
    examples = text[text.index("examples:"):].strip().splitlines()
    assert sum(line.strip().startswith("vasa3d talk") for line in examples) == 2


def test_native_log_lines_are_dropped_but_python_output_is_kept():
    from vasa3d.logs import filter_chunk

    noise = (b"W0000 00:00:1795933069.884647   12919 inference_feedback_manager.cc:114] Feedback manager...\n"
             b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n"
             b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
    out, pending = filter_chunk(b"", noise + b"error: something to fix\n\r 40%|####  ")
    assert out == b"error: something to fix\n\r 40%|####  " and pending == b""
    out, pending = filter_chunk(b"", b"W0000 00:00:17.1 12 x.cc:1] par")     # an unfinished noise line waits
    assert out == b"" and filter_chunk(pending, b"tial\n") == (b"", b"")


def test_the_command_prints_no_mediapipe_lines_unless_verbose(work):
    folder, image, _ = work
    quiet = subprocess.run([sys.executable, "-m", "vasa3d.cli", "build", str(image), "-o", str(folder / "a.npz")],
                           capture_output=True, text=True)
    assert quiet.returncode == 0 and (folder / "a.npz").is_file()
    assert "W0000" not in quiet.stderr and "inference_feedback_manager" not in quiet.stderr, quiet.stderr
    assert "TensorFlow Lite" not in quiet.stderr
