"""Behavioural tests of vasa3d.io: images, audio, video, atomic writes and offline TTS."""

from __future__ import annotations

import struct
import threading
import wave as wave_module
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from conftest import SHARED_DATA, TEST_DATA, with_shared_originals

from vasa3d.errors import InputError
from vasa3d.io import (
    MAX_AUDIO_SECONDS,
    VideoWriter,
    atomic_write,
    iter_video_frames,
    load_phones,
    load_words,
    probe_media,
    read_audio,
    read_image,
    read_image_u8,
    read_video,
    sidecar_path,
    synthesize_speech,
    write_image,
    write_video,
    write_wav,
)

PORTRAITS = sorted(p.name for p in (TEST_DATA / "portraits").iterdir())
ORIGINALS = sorted(p.name for p in (SHARED_DATA / "portraits").glob("*.*")) if SHARED_DATA.is_dir() else []
WAVS = ["a01_en_jfk_inaugural.wav", "a02_en_ljspeech_LJ001-0001.wav"]


# ---------------------------------------------------------------- images


@pytest.mark.parametrize("path", with_shared_originals([f"portraits/{n}" for n in PORTRAITS],
                                                       [f"portraits/{n}" for n in ORIGINALS]))
def test_read_shared_portraits(path):
    rgb = read_image(path)
    with Image.open(path) as im:
        width, height = im.size
    assert rgb.shape == (height, width, 3) and rgb.dtype == np.float32
    assert 0.0 <= rgb.min() and rgb.max() <= 1.0 and rgb.std() > 0.05
    u8 = read_image_u8(path)
    assert u8.dtype == np.uint8 and np.abs(u8 / 255.0 - rgb).max() <= 0.5 / 255 + 1e-6


def test_exif_orientation_is_applied(tmp_path):
    stored = np.full((40, 60, 3), 128, np.uint8)  # H 40, W 60 as stored
    stored[:10, :10] = [255, 0, 0]  # red top-left corner as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation 6: display rotated 90 degrees clockwise
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, exif=exif.tobytes(), quality=95)
    rgb = read_image(path)
    assert rgb.shape == (60, 40, 3)
    top_right, top_left = rgb[2:8, -8:-2].mean((0, 1)), rgb[2:8, 2:8].mean((0, 1))
    assert top_right[0] > 0.8 and top_right[1] < 0.2  # the red corner moved to the top-right
    assert abs(top_left[0] - 0.5) < 0.1


def test_grayscale_becomes_three_equal_channels(tmp_path):
    grey = np.tile(np.arange(64, dtype=np.uint8)[None] * 4, (48, 1))
    Image.fromarray(grey, mode="L").save(tmp_path / "g.png")
    rgb = read_image(tmp_path / "g.png")
    assert rgb.shape == (48, 64, 3)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])
    np.testing.assert_allclose(rgb[0, :, 1], grey[0] / 255.0, atol=1e-6)


def test_rgba_transparency_composited_over_white(tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[:, :20] = [0, 0, 255, 255]  # opaque blue left half; right half fully transparent black
    rgba[:5, :5] = [0, 0, 0, 128]  # half-transparent black
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    rgb = read_image(tmp_path / "a.png")
    np.testing.assert_allclose(rgb[20, 30], [1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(rgb[20, 10], [0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(rgb[2, 2], [127 / 255] * 3, atol=1e-3)
    np.testing.assert_allclose(read_image(rgba)[20, 30], [1, 1, 1], atol=1e-6)  # arrays too


def test_palette_with_transparency_and_la(tmp_path):
    pal = Image.new("P", (40, 40), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    pal.paste(1, (0, 0, 20, 40))
    pal.save(tmp_path / "p.png", transparency=0)
    rgb = read_image(tmp_path / "p.png")
    np.testing.assert_allclose(rgb[10, 5], [1, 0, 0])
    np.testing.assert_allclose(rgb[10, 30], [1, 1, 1])
    la = Image.fromarray(np.stack([np.zeros((40, 40), np.uint8), np.zeros((40, 40), np.uint8)], -1), mode="LA")
    la.save(tmp_path / "la.png")
    np.testing.assert_allclose(read_image(tmp_path / "la.png"), 1.0)


def test_16bit_png_keeps_full_range(tmp_path):
    arr = np.zeros((40, 40), np.uint16)
    arr[:, :10], arr[:, 10:20], arr[:, 20:30] = 65535, 32768, 256
    Image.frombytes("I;16", (40, 40), arr.astype("<u2").tobytes()).save(tmp_path / "d.png")
    rgb = read_image(tmp_path / "d.png")
    assert rgb[0, 0, 0] == pytest.approx(1.0)
    assert rgb[0, 15, 1] == pytest.approx(32768 / 65535, abs=1e-6)
    assert rgb[0, 25, 2] == pytest.approx(256 / 65535, abs=1e-6)  # not clipped to 255 -> 1.0
    np.testing.assert_allclose(read_image(arr)[0, 15], [32768 / 65535] * 3, atol=1e-6)


def test_webp_and_write_image_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "x.webp", lossless=True)
    np.testing.assert_array_equal(read_image_u8(tmp_path / "x.webp"), img)
    out = write_image(tmp_path / "y.png", img.astype(np.float32) / 255.0)
    np.testing.assert_array_equal(read_image_u8(out), img)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_array_inputs():
    base = np.linspace(0, 1, 40 * 50, dtype=np.float32).reshape(40, 50)
    assert read_image(base).shape == (40, 50, 3)
    assert read_image(base[..., None]).shape == (40, 50, 3)
    np.testing.assert_allclose(read_image((base * 255).round().astype(np.uint8))[..., 0], base, atol=0.5 / 255)
    with pytest.raises(InputError, match="divide by 255"):
        read_image(base * 255)
    with pytest.raises(InputError, match="shape"):
        read_image(np.zeros((40, 50, 2), np.uint8))
    with pytest.raises(InputError, match="too small"):
        read_image(np.zeros((20, 50, 3), np.uint8))


def test_image_errors_are_helpful(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_image(tmp_path / "nope.jpg")
    with pytest.raises(InputError, match="directory"):
        read_image(tmp_path)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(InputError, match=r"could not read image '.*bad\.jpg': not a JPEG/PNG"):
        read_image(bad)
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(InputError, match="damaged or truncated"):
        read_image(truncated)
    Image.fromarray(np.zeros((16, 64, 3), np.uint8)).save(tmp_path / "tiny.png")
    with pytest.raises(InputError, match="too small"):
        read_image(tmp_path / "tiny.png")


def test_huge_image_is_refused_before_decoding(tmp_path):
    Image.new("RGB", (32, 32)).save(tmp_path / "s.png")
    png = bytearray((tmp_path / "s.png").read_bytes())
    ihdr = png[12:29]  # b"IHDR" + 13 data bytes
    ihdr[4:12] = struct.pack(">II", 10000, 6000)  # claim 60 megapixels
    png[12:29] = ihdr
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    (tmp_path / "huge.png").write_bytes(bytes(png))
    with pytest.raises(InputError, match="too large"):
        read_image(tmp_path / "huge.png")


# ---------------------------------------------------------------- audio


def _wav_mono_native(path: Path) -> tuple[np.ndarray, int]:
    with wave_module.open(str(path)) as w:
        raw = np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels())
        return raw.astype(np.float64).mean(1) / 32768.0, w.getframerate()


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def _dominant_hz(wave: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(wave.size)))
    return float(np.fft.rfftfreq(wave.size, 1 / sr)[spectrum.argmax()])


@pytest.mark.parametrize("path", with_shared_originals([f"audio/{n}" for n in WAVS], [f"audio/{n}" for n in WAVS]))
def test_read_shared_wavs(path):
    native, rate = _wav_mono_native(path)
    out = read_audio(path)
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(out.size - native.size * 16000 / rate) <= 1.0
    assert -1.0 <= out.min() and out.max() <= 1.0
    assert _rms(out) == pytest.approx(_rms(native), rel=0.05)


def _write_sine(path: Path, codec: str, rate: int = 44100, fmt: str | None = None, seconds: float = 1.0, **opts):
    import av

    sr = 44100
    t = np.arange(int(sr * seconds)) / sr
    stereo = np.stack([0.4 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 440 * t)]).astype(np.float32)
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout="stereo", options=opts)
        for i in range(0, stereo.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(stereo[:, i:i + 1024]), format="fltp",
                                               layout="stereo")
            frame.sample_rate, frame.pts = sr, i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


@pytest.mark.parametrize("name,codec,rate,fmt,opts", [
    ("s.mp3", "libmp3lame", 44100, None, {}),
    ("s.flac", "flac", 44100, None, {}),
    ("s.ogg", "vorbis", 44100, None, {"strict": "experimental"}),
    ("s.opus", "libopus", 48000, "ogg", {}),
    ("s.m4a", "aac", 44100, "mp4", {}),
])
def test_read_compressed_audio(tmp_path, name, codec, rate, fmt, opts):
    path = tmp_path / name
    _write_sine(path, codec, rate, fmt, **opts)
    out = read_audio(path, sr=16000)
    assert abs(out.size / 16000 - 1.0) < 0.05
    assert _dominant_hz(out, 16000) == pytest.approx(440, abs=3)
    assert _rms(out) == pytest.approx(0.3 / np.sqrt(2), rel=0.1)  # channels averaged: amplitude (0.4+0.2)/2


def test_tuple_inputs_including_gradio_order():
    sr = 44100
    t = np.arange(sr // 2) / sr
    sine = np.sin(2 * np.pi * 440 * t)
    stereo_i16 = (np.stack([sine, sine], 1) * 16000).astype(np.int16)  # [S, 2]
    a = read_audio((stereo_i16, sr))
    b = read_audio((sr, stereo_i16))  # Gradio's (rate, data)
    np.testing.assert_array_equal(a, b)
    assert a.size == 8000 and _dominant_hz(a, 16000) == pytest.approx(440, abs=3)
    assert np.abs(a).max() == pytest.approx(16000 / 32768, rel=0.02)
    same = np.linspace(-0.5, 0.5, 1600, dtype=np.float32)
    np.testing.assert_array_equal(read_audio((same, 16000)), same)
    np.testing.assert_allclose(read_audio((stereo_i16.T, sr)), a, atol=1e-6)  # channels-first


def test_resampling_is_band_limited():
    t = np.arange(44100) / 44100
    tone_12k = (0.5 * np.sin(2 * np.pi * 12000 * t)).astype(np.float32)  # above the 8 kHz Nyquist of 16 kHz
    assert _rms(read_audio((tone_12k, 44100))[800:-800]) < 0.01  # removed, not aliased to 4 kHz


def test_audio_edge_cases(tmp_path):
    np.testing.assert_array_equal(read_audio((np.zeros(16000, np.float32), 16000)), 0.0)  # silence is fine
    with pytest.raises(InputError, match="empty"):
        read_audio((np.zeros(0, np.int16), 16000))
    write_wav(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(InputError, match="empty"):
        read_audio(tmp_path / "empty.wav")
    with pytest.raises(InputError, match="does not exist"):
        read_audio(tmp_path / "missing.wav")
    (tmp_path / "junk.mp3").write_bytes(b"\x00garbage" * 100)
    with pytest.raises(InputError, match="junk.mp3"):
        read_audio(tmp_path / "junk.mp3")
    limit = f"{MAX_AUDIO_SECONDS:.0f} s"
    with pytest.raises(InputError, match=limit):
        read_audio((np.zeros(int(1000 * (MAX_AUDIO_SECONDS + 1)), np.int16), 1000))
    write_wav(tmp_path / "long.wav", np.zeros(int(1000 * (MAX_AUDIO_SECONDS + 5)), np.float32), 1000)
    with pytest.raises(InputError, match=limit):
        read_audio(tmp_path / "long.wav")


def test_write_wav_round_trip(tmp_path):
    x = (0.5 * np.sin(np.arange(8000) / 5)).astype(np.float32)
    path = write_wav(tmp_path / "x.wav", x, 8000)
    np.testing.assert_allclose(read_audio(path, sr=8000), x, atol=1 / 32767)
    assert probe_media(path).audio.sample_rate == 8000


# ---------------------------------------------------------------- video


def _frames(n: int, height: int = 64, width: int = 96):
    for i in range(n):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:, : width // 2] = [200, 30, 40]
        frame[:, width // 2:] = [20, 180, 90]
        frame[:8, :8] = (i * 5) % 256
        yield frame


def _sine16k(seconds: float) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(16000 * seconds)) / 16000)).astype(np.float32)


@pytest.mark.parametrize("backend", ["pyav", "ffmpeg"])
def test_write_video_h264_aac_duration(tmp_path, backend):
    if backend == "ffmpeg":
        pytest.importorskip("imageio_ffmpeg")
    out = write_video(tmp_path / "v.mp4", _frames(50), 25, _sine16k(2.0), 16000, backend=backend)
    info = probe_media(out)
    assert info.video.codec == "h264" and info.video.pix_fmt == "yuv420p" and info.audio.codec == "aac"
    assert info.video.fps == pytest.approx(25) and info.video.n_frames == 50
    assert (info.video.width, info.video.height) == (96, 64)
    assert abs(info.duration_s - 2.0) < 0.1
    frames, fps = read_video(out)
    assert frames.shape == (50, 64, 96, 3) and fps == pytest.approx(25)
    np.testing.assert_allclose(frames[10, 32, 24], [200, 30, 40], atol=6)  # BT.709 round trip
    np.testing.assert_allclose(frames[10, 32, 72], [20, 180, 90], atol=6)
    audio = read_audio(out)
    assert abs(audio.size / 16000 - 2.0) < 0.03 and _dominant_hz(audio, 16000) == pytest.approx(440, abs=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]


def test_audio_is_never_truncated_by_fewer_frames(tmp_path):
    out = write_video(tmp_path / "short.mp4", _frames(30), 25, _sine16k(2.0), 16000)
    info = probe_media(out)
    assert info.video.n_frames == 30 and abs(info.audio.duration_s - 2.0) < 0.05
    assert abs(info.duration_s - 2.0) < 0.1


@pytest.mark.parametrize("exc_type,n_good,backend", [
    (RuntimeError, 5, "auto"), (RuntimeError, 80, "auto"), (KeyboardInterrupt, 80, "auto"),
    (KeyboardInterrupt, 80, "ffmpeg"),
])
def test_write_video_is_atomic_on_failure(tmp_path, exc_type, n_good, backend):
    if backend == "ffmpeg":
        pytest.importorskip("imageio_ffmpeg")

    def failing():  # after 80 frames x264 has emitted packets, so the temporary file exists on disk
        yield from _frames(n_good)
        raise exc_type("renderer died")

    target = tmp_path / "out.mp4"
    with pytest.raises(exc_type, match="renderer died"):
        write_video(target, failing(), 25, _sine16k(1.0), backend=backend)
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"previous result")  # an older file is kept, not clobbered
    with pytest.raises(exc_type):
        write_video(target, failing(), 25, backend=backend)
    assert target.read_bytes() == b"previous result" and len(list(tmp_path.iterdir())) == 1


def test_video_frame_errors(tmp_path):
    with pytest.raises(InputError, match="even"):
        write_video(tmp_path / "odd.mp4", _frames(3, 63, 96), 25)
    mixed = [np.zeros((64, 96, 3), np.uint8), np.zeros((32, 96, 3), np.uint8)]
    with pytest.raises(InputError, match="same size"):
        write_video(tmp_path / "mixed.mp4", mixed, 25)
    with pytest.raises(InputError, match="no frames"):
        write_video(tmp_path / "none.mp4", [], 25)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="does not exist"):
        read_video(tmp_path / "none.mp4")


def test_video_writer_context_manager(tmp_path):
    with VideoWriter(tmp_path / "w.mp4", fps=10) as writer:
        for frame in _frames(7):
            writer.write(frame.astype(np.float32) / 255.0)  # float frames are accepted
        assert not (tmp_path / "w.mp4").exists()  # published only on close
    assert sum(1 for _ in iter_video_frames(tmp_path / "w.mp4")) == 7
    assert probe_media(tmp_path / "w.mp4").audio is None
    writer = VideoWriter(tmp_path / "x.mp4", fps=10)  # kept referenced: cleanup must not rely on __del__
    with pytest.raises(RuntimeError, match="stop"), writer:
        for frame in _frames(80):
            writer.write(frame)
        assert any(p.name.startswith(".tmp-x-") for p in tmp_path.iterdir())
        raise RuntimeError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.mp4"]


def test_atomic_write(tmp_path):
    with atomic_write(tmp_path / "a.txt", "w") as f:
        f.write("done")
    assert (tmp_path / "a.txt").read_text() == "done"
    with pytest.raises(ValueError, match="boom"), atomic_write(tmp_path / "b.txt", "w") as f:
        f.write("half")
        raise ValueError("boom")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


# ---------------------------------------------------------------- text to speech


@pytest.fixture(scope="module")
def papa():
    return synthesize_speech("a papa pipe")


def test_tts_audio_phones_and_words(papa):
    assert papa.sr == 22050 and papa.wave.dtype == np.float32
    assert 0.5 < papa.duration_s < 3.0 and np.abs(papa.wave).max() > 0.1
    phones = papa.phones
    assert phones[0].start_s == 0.0 and phones[-1].end_s == pytest.approx(papa.duration_s)
    for a, b in zip(phones, phones[1:]):
        assert a.end_s == b.start_s and a.end_s > a.start_s  # contiguous, non-empty
    assert [p.phone for p in phones].count("p") == 4 and phones[-1].phone == "sil"
    assert any(p.stress == 1 for p in phones)
    assert [w.word for w in papa.words] == ["a", "papa", "pipe"]
    for a, b in zip(papa.words, papa.words[1:]):
        assert a.start_s < a.end_s <= b.start_s


def test_tts_bilabial_closures_are_inside_p(papa):
    def rms_at(t: float) -> float:
        i = round(t * papa.sr)
        return _rms(papa.wave[max(0, i - 110): i + 110])  # 10 ms window

    def quietest_in_middle(p) -> float:  # the closure, somewhere in the middle 60% of the phone (the burst is not)
        return min(rms_at(t) for t in np.linspace(p.start_s + 0.2 * (p.end_s - p.start_s),
                                                   p.end_s - 0.2 * (p.end_s - p.start_s), 7))

    stops = [p for p in papa.phones if p.phone == "p"]
    vowels = [p for p in papa.phones if p.phone in ("A:", "aI", "@", "a#")]
    vowel_rms = np.mean([rms_at((p.start_s + p.end_s) / 2) for p in vowels])
    assert len(stops) >= 3
    assert max(quietest_in_middle(p) for p in stops) < 0.1 * vowel_rms  # 20 dB quieter: lips closed
    for prev, cur in zip(papa.phones, papa.phones[1:]):
        if cur.phone == "p" and prev.phone != "sil":  # the closure silence is not left in the vowel before
            assert rms_at(prev.end_s - 0.008) > 0.1 * vowel_rms


def test_tts_errors_and_threads():
    with pytest.raises(InputError, match="empty"):
        synthesize_speech("   \n")
    with pytest.raises(InputError, match="too long"):
        synthesize_speech("a" * 5001)
    with pytest.raises(InputError, match="voice"):
        synthesize_speech("hello", voice="no-such-voice")  # not silently matched to Norwegian ("no")
    assert synthesize_speech("hello", voice="en-gb").duration_s > 0.2  # a language code, not a voice file
    alone = synthesize_speech("hello world, how are you")
    results = [None, None]

    def run(k):
        results[k] = synthesize_speech("hello world, how are you")

    threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    for result in results:  # not mixed up: espeak's global state is used under a lock
        assert abs(result.wave.size - alone.wave.size) < 0.002 * alone.sr  # pitch-flutter phase: < 2 ms
        assert [p.phone for p in result.phones] == [p.phone for p in alone.phones]


def test_tts_save_and_load_phones(tmp_path, papa):
    assert load_phones(tmp_path / "none.wav") is None
    wav = papa.save(tmp_path / "say.wav")
    assert sidecar_path(wav).name == "say.phones.json"
    assert load_phones(wav) == papa.phones and load_words(wav) == papa.words
    back = read_audio(wav, sr=papa.sr)
    assert abs(back.size - papa.wave.size) <= 1
    write_wav(wav, np.zeros(1000, np.float32), 22050)  # audio replaced: the old timings no longer apply
    assert load_phones(wav) is None
    sidecar_path(wav).write_text("{not json")
    with pytest.raises(InputError, match="phones.json"):
        load_phones(wav)


@pytest.mark.parametrize("backend", ["pyav", "ffmpeg"])
def test_fragmented_video_grows_at_the_partial_path_then_is_renamed(tmp_path, backend):
    """A fragmented mp4 is readable while it is being written (a player can start), and is renamed on success."""
    from vasa3d.io.video import partial_path

    target = tmp_path / "live.mp4"
    readable_mid_way = []
    with VideoWriter(target, 25, _sine16k(3.0), 16000, fragmented=True, backend=backend) as writer:
        for i, frame in enumerate(_frames(75)):
            writer.write(frame)
            if i == 60:  # keyframes every second: the first two fragments are on disk by now
                assert partial_path(target).exists() and not target.exists()
                readable_mid_way.append(sum(1 for _ in iter_video_frames(partial_path(target))))
    if backend == "pyav":  # the ffmpeg process reads the pipe at its own pace: no promise of when
        assert readable_mid_way[0] >= 25
    assert sorted(p.name for p in tmp_path.iterdir()) == ["live.mp4"]
    info = probe_media(target)
    assert info.video.n_frames == 75 and abs(info.duration_s - 3.0) < 0.1 and info.audio.codec == "aac"


def test_fragmented_video_leaves_nothing_on_failure(tmp_path):
    def failing():
        yield from _frames(60)
        raise RuntimeError("renderer died")

    with pytest.raises(RuntimeError, match="renderer died"):
        write_video(tmp_path / "live.mp4", failing(), 25, _sine16k(3.0), fragmented=True)
    assert list(tmp_path.iterdir()) == []


def test_segmented_writer_streams_segments_and_joins_them_without_loss(tmp_path):
    """Each segment is a playable mp4 with its share of the audio, handed over in order; the joined video has
    every frame (decoded identically to the segments') and the whole audio."""
    from vasa3d.io.video import SegmentedVideoWriter

    seg_dir = tmp_path / "segments"
    seg_dir.mkdir()
    seen = []
    frames = list(_frames(62))
    with SegmentedVideoWriter(tmp_path / "all.mp4", 25, _sine16k(2.48), 16000, segment_dir=seg_dir, segment_s=1.0,
                              on_segment=seen.append) as writer:
        for i, frame in enumerate(frames):
            writer.write(frame)
            assert len(seen) == (i + 1) // 25  # a segment is handed over as soon as it is full
    assert [p.name for p in seen] == ["segment-00000.mp4", "segment-00001.mp4", "segment-00002.mp4"]
    counts = [probe_media(p).video.n_frames for p in seen]
    assert counts == [25, 25, 12]
    assert all(abs(probe_media(p).audio.duration_s - n / 25) < 0.08 for p, n in zip(seen, counts))
    joined, fps = read_video(tmp_path / "all.mp4")
    parts = np.concatenate([read_video(p)[0] for p in seen])
    assert joined.shape == (62, 64, 96, 3) and fps == pytest.approx(25)
    assert np.array_equal(joined, parts)  # stream copy: the same pictures
    assert abs(probe_media(tmp_path / "all.mp4").audio.duration_s - 2.48) < 0.05
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.mp4", "segments"]


def test_segmented_writer_failure_leaves_no_joined_file(tmp_path):
    from vasa3d.io.video import SegmentedVideoWriter

    seg_dir = tmp_path / "segments"
    seg_dir.mkdir()
    with pytest.raises(RuntimeError, match="stop"):
        with SegmentedVideoWriter(tmp_path / "all.mp4", 25, segment_dir=seg_dir) as writer:
            for frame in _frames(30):
                writer.write(frame)
            raise RuntimeError("stop")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["segments"]
    assert not any(p.name.startswith(".tmp-") for p in seg_dir.iterdir())
