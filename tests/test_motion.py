"""Tests for vasa3d.motion: MotionSequence I/O and the audio -> motion model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vasa3d.arkit import ARKIT_BLENDSHAPES, MOTION_BLENDSHAPES
from vasa3d.config import MotionConfig
from vasa3d.errors import InputError
from vasa3d.motion import MotionSequence, motion_from_audio

SR = 16000
MOUTH = [n for n in MOTION_BLENDSHAPES if n.startswith(("jaw", "mouth"))]


def syllables(duration_s: float, rate_hz: float = 4.0, sr: int = SR, seed: int = 0) -> np.ndarray:
    """Speech-like test signal [S] float32: a 140 Hz harmonic tone amplitude-modulated into syllables."""
    t = np.arange(int(duration_s * sr)) / sr
    rng = np.random.default_rng(seed)
    carrier = sum(np.sin(2 * np.pi * 140 * k * t + rng.uniform(0, 6)) / k for k in range(1, 12))
    env = np.clip(np.sin(2 * np.pi * rate_hz * t), 0, None) ** 2
    return (0.2 * carrier * env).astype(np.float32)


def random_sequence(t: int = 30, fps: float = 25.0, seed: int = 0) -> MotionSequence:
    rng = np.random.default_rng(seed)
    return MotionSequence(fps, MOTION_BLENDSHAPES, rng.uniform(0, 1, (t, len(MOTION_BLENDSHAPES))),
                          rng.normal(0, 0.1, (t, 3)), rng.normal(0, 0.01, (t, 3)), rng.normal(0, 0.1, (t, 2)))


# ---------------------------------------------------------------------- MotionSequence
def test_sequence_properties_and_validation():
    m = random_sequence(50, 25.0)
    assert m.num_frames == 50 and math.isclose(m.duration_s, 2.0)
    assert m.coeffs.dtype == np.float32 and m.head_rotation.dtype == np.float32
    np.testing.assert_array_equal(m.coeff("jawOpen"), m.coeffs[:, MOTION_BLENDSHAPES.index("jawOpen")])
    assert np.all(m.coeff("tongueOut") == 0)
    with pytest.raises(ValueError, match="unknown blendshape"):
        m.coeff("jawOpenWide")
    with pytest.raises(ValueError, match="coeffs must lie in"):
        MotionSequence(25, ("jawOpen",), np.full((3, 1), 1.5), np.zeros((3, 3)), np.zeros((3, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="head_rotation must have shape"):
        MotionSequence(25, ("jawOpen",), np.zeros((3, 1)), np.zeros((2, 3)), np.zeros((3, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="unknown blendshape"):
        MotionSequence(25, ("jaw",), np.zeros((3, 1)), np.zeros((3, 3)), np.zeros((3, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="unique"):
        MotionSequence(25, ("jawOpen", "jawOpen"), np.zeros((3, 2)), np.zeros((3, 3)), np.zeros((3, 3)),
                       np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        MotionSequence(25, ("jawOpen",), np.full((3, 1), np.nan), np.zeros((3, 3)), np.zeros((3, 3)),
                       np.zeros((3, 2)))
    with pytest.raises(ValueError, match="fps"):
        MotionSequence(0, (), np.zeros((3, 0)), np.zeros((3, 3)), np.zeros((3, 3)), np.zeros((3, 2)))


def test_slice_and_resample():
    m = random_sequence(50, 25.0)
    s = m.slice(10, 20)
    assert s.num_frames == 10
    np.testing.assert_array_equal(s.coeffs, m.coeffs[10:20])
    r = m.resample(50.0)
    assert r.num_frames == 100 and r.fps == 50.0
    np.testing.assert_allclose(r.coeffs[::2], m.coeffs, atol=1e-6)


@pytest.mark.parametrize("suffix", [".npz", ".json"])
def test_save_load_roundtrip(tmp_path, suffix):
    m = random_sequence()
    path = tmp_path / f"sub/motion{suffix}"
    m.save(path)
    back = MotionSequence.load(path)
    assert back.fps == m.fps and back.names == m.names
    for field in ("coeffs", "head_rotation", "head_translation", "gaze"):
        np.testing.assert_array_equal(getattr(back, field), getattr(m, field))
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind


def test_save_rejects_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="suffix"):
        random_sequence().save(tmp_path / "motion.txt")


def test_arkit_csv_roundtrip(tmp_path):
    m = random_sequence(60, 30.0)
    path = tmp_path / "take.csv"
    m.to_arkit_csv(path)
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    assert header[:3] == ["Timecode", "BlendShapeCount", "EyeBlinkLeft"]
    assert header[-9:] == ["HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
                           "RightEyeYaw", "RightEyePitch", "RightEyeRoll"]
    assert len(header) == 2 + 52 + 9 and len(lines) == 61
    assert lines[1].split(",")[0] == "00:00:00:00.000" and lines[32].split(",")[0] == "00:00:01:01.000"
    back = MotionSequence.from_arkit_csv(path)  # fps inferred from the timecodes
    assert back.fps == 30.0 and back.names == ARKIT_BLENDSHAPES
    for name in MOTION_BLENDSHAPES:
        np.testing.assert_allclose(back.coeff(name), m.coeff(name), atol=1e-6)
    np.testing.assert_allclose(back.head_rotation, m.head_rotation, atol=1e-5)
    np.testing.assert_allclose(back.gaze, m.gaze, atol=1e-6)
    sub = MotionSequence.from_arkit_csv(path, fps=30.0, names=("jawOpen",))
    assert sub.names == ("jawOpen",)


def test_csv_short_file_needs_fps(tmp_path):
    path = tmp_path / "short.csv"
    random_sequence(5, 25.0).to_arkit_csv(path)
    with pytest.raises(ValueError, match="pass fps"):
        MotionSequence.from_arkit_csv(path)
    assert MotionSequence.from_arkit_csv(path, fps=25.0).num_frames == 5


# ---------------------------------------------------------------------- motion_from_audio
def test_sizes_and_names():
    wave = syllables(2.3)
    m = motion_from_audio(wave, SR)
    assert m.names == MOTION_BLENDSHAPES and m.fps == 25.0
    assert m.num_frames == math.ceil(2.3 * 25)
    assert m.coeffs.shape == (m.num_frames, len(MOTION_BLENDSHAPES)) and m.coeffs.dtype == np.float32
    assert motion_from_audio(wave, SR, num_frames=80).num_frames == 80
    assert motion_from_audio(wave, SR, config=MotionConfig(fps=30.0)).num_frames == math.ceil(2.3 * 30)


def test_resampled_input_and_int_pcm():
    wave = syllables(1.0, sr=22050)
    m = motion_from_audio(wave, 22050)
    m_int = motion_from_audio((wave * 32767).astype(np.int16), 22050)
    assert m.num_frames == m_int.num_frames == 25
    np.testing.assert_allclose(m.coeff("jawOpen"), m_int.coeff("jawOpen"), atol=0.02)


def test_seed_determinism():
    wave = syllables(6.0)
    a = motion_from_audio(wave, SR, config=MotionConfig(seed=3))
    b = motion_from_audio(wave, SR, config=MotionConfig(seed=3))
    c = motion_from_audio(wave, SR, config=MotionConfig(seed=4))
    for field in ("coeffs", "head_rotation", "head_translation", "gaze"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.head_rotation, c.head_rotation)


def test_silence_mouth_closed_and_still():
    m = motion_from_audio(np.zeros(3 * SR, np.float32), SR)
    for name in MOUTH:
        assert np.all(m.coeff(name) == 0.0), name
    noise = (1e-4 * np.random.default_rng(0).standard_normal(3 * SR)).astype(np.float32)  # -80 dBFS hiss
    m = motion_from_audio(noise, SR)
    assert all(np.all(m.coeff(n) == 0.0) for n in MOUTH)


def test_pause_inside_speech_is_still():
    wave = np.concatenate([syllables(1.5), np.zeros(SR, np.float32), syllables(1.5, seed=1)])
    m = motion_from_audio(wave, SR)
    pause = slice(int(1.65 * 25), int(2.45 * 25))  # 1.5-2.5 s, leaving time for release and visual lead
    for name in MOUTH:
        track = m.coeff(name)[pause]
        assert np.all(track == track[0]) and track[0] == 0.0, name


def test_loud_speech_opens_jaw():
    m = motion_from_audio(syllables(3.0), SR)
    jaw = m.coeff("jawOpen")
    assert jaw.max() > 0.3
    assert jaw.min() < 0.05  # closes between syllables
    assert np.all(m.coeff("mouthClose") <= jaw + 1e-6)  # the lips never close through each other


def test_blinks_and_head_motion():
    m = motion_from_audio(syllables(20.0), SR)
    blink = m.coeff("eyeBlinkLeft")
    onsets = np.flatnonzero((blink[1:] >= 0.99) & (blink[:-1] < 0.99))
    assert 2 <= len(onsets) <= 12  # about every 3-5 s over 20 s
    np.testing.assert_array_equal(blink, m.coeff("eyeBlinkRight"))
    rot = m.head_rotation
    assert 0.005 < np.abs(rot).max() < 0.25
    assert np.abs(np.diff(rot, axis=0)).max() < 0.6 / 25 + 1e-6  # bounded angular speed
    still = motion_from_audio(syllables(20.0), SR, config=MotionConfig(head_motion_scale=0.0))
    assert np.all(still.head_rotation == 0) and np.all(still.head_translation == 0)


def test_expression_scale():
    wave = syllables(2.0)
    base = motion_from_audio(wave, SR)
    half = motion_from_audio(wave, SR, config=MotionConfig(expression_scale=0.5))
    np.testing.assert_allclose(half.coeff("jawOpen"), 0.5 * base.coeff("jawOpen"), atol=1e-6)
    np.testing.assert_array_equal(half.coeff("eyeBlinkLeft"), base.coeff("eyeBlinkLeft"))


@pytest.mark.parametrize("wave, sr, match", [
    (np.zeros(0, np.float32), SR, "empty"),
    (np.zeros((SR, 2), np.float32), SR, "mono"),
    (np.full(SR, np.nan, np.float32), SR, "NaN"),
    (np.zeros(SR, np.float32), 100, "sample rate"),
])
def test_bad_input_raises_input_error(wave, sr, match):
    with pytest.raises(InputError, match=match):
        motion_from_audio(wave, sr)


def test_bad_config_raises():
    with pytest.raises(ValueError, match="num_frames"):
        motion_from_audio(syllables(1.0), SR, num_frames=0)
    with pytest.raises(ValueError, match="fps"):
        motion_from_audio(syllables(1.0), SR, config=MotionConfig(fps=0))
