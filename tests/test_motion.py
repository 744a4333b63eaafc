"""Tests for vasa3d.motion: MotionSequence I/O and the audio -> motion model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import data

from vasa3d.arkit import ARKIT_BLENDSHAPES, MOTION_BLENDSHAPES
from vasa3d.config import MotionConfig
from vasa3d.errors import InputError
from vasa3d.motion import MotionSequence, motion_from_audio
from vasa3d.motion.features import compute_features, prepare_wave
from vasa3d.motion.model import find_phones
from vasa3d.motion.phones import (Phone, acoustic_phones, align_transcript, guess_pronunciation, pause_cuts,
                                  transcript_words)
from vasa3d.motion.prosody import pitch_track
from vasa3d.motion.visemes import (ARTIC, VISEMES, coarticulate, detect_alphabet, lip_gap, viseme_of,
                                   viseme_segments)

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


@pytest.mark.parametrize("lip_sync", ["auto", "acoustic", "loudness"])
def test_pause_inside_speech_is_still(lip_sync):
    # speech ends at 1.375 s (the last syllable envelope lobe) and resumes at 2.5 s; the mouth may release
    # for ~0.25 s and prepare for ~0.3 s (hangover + visual lead), so 1.7-2.15 s must be exactly at rest
    wave = np.concatenate([syllables(1.5), np.zeros(SR, np.float32), syllables(1.5, seed=1)])
    m = motion_from_audio(wave, SR, config=MotionConfig(lip_sync=lip_sync))
    pause = slice(int(1.7 * 25), int(2.15 * 25))
    for name in MOUTH:
        track = m.coeff(name)[pause]
        assert np.all(track == 0.0), name


def test_loud_speech_opens_jaw_loudness_mode():
    m = motion_from_audio(syllables(3.0), SR, config=MotionConfig(lip_sync="loudness"))
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


# ---------------------------------------------------------------------- stage 2: phones, visemes, prosody
CLOSED_GAP = 0.03
"""lip_gap at or below this counts as lips closed (ARKit units)."""
SENTENCES = [
    "Peter Piper picked a peck of pickled peppers, but my mom baked a big apple pie.",
    "Bob and Mary were happy about the map of the big bay, maybe by Monday.",
    "I am not a member of the board, but I might ask about the budget for the summer.",
]


def read_clip(stem: str) -> tuple[np.ndarray, int, str]:
    import scipy.io.wavfile

    path = data(f"audio/{stem}.wav")
    sr, x = scipy.io.wavfile.read(path)
    x = x.astype(np.float32) / 32768.0
    if x.ndim == 2:
        x = x.mean(axis=1)
    return x, sr, path.with_suffix(".txt").read_text(encoding="utf-8")


def lip_sync_scores(m: MotionSequence, phones, lead_s: float = 0.0) -> tuple[float, float]:
    """(share of p/b/m phones with a closed-lip frame within 40 ms of the phone, mean jawOpen during open vowels /
    mean jawOpen during p/b/m); the phone intervals are moved lead_s earlier for the jaw means."""
    t, gap, jaw = m.times_s, lip_gap(m), m.coeff("jawOpen")
    closed, bilabial_jaw, vowel_jaw = [], [], []
    for p in phones:
        cls = viseme_of(p.phone, "espeak")
        near = (t >= p.start_s - 0.04) & (t <= p.end_s + 0.04)
        inside = (t >= p.start_s - lead_s) & (t < p.end_s - lead_s)
        if not inside.any():
            mid = 0.5 * (p.start_s + p.end_s) - lead_s
            inside = np.abs(t - mid) == np.abs(t - mid).min()
        if cls == "PBM":
            closed.append(bool(gap[near].min() <= CLOSED_GAP))
            bilabial_jaw.append(jaw[inside].mean())
        elif cls in ("AA", "AE", "AH", "AO") and p.phone not in ("@", "@2", "@5", "a#"):
            vowel_jaw.append(jaw[inside].mean())
    return float(np.mean(closed)), float(np.mean(vowel_jaw) / np.mean(bilabial_jaw))


@pytest.fixture(scope="module")
def tts():
    mod = pytest.importorskip("vasa3d.io.tts")
    try:
        return [mod.synthesize_speech(text) for text in SENTENCES]
    except (OSError, RuntimeError) as e:  # espeak-ng library missing
        pytest.skip(f"speech synthesis unavailable: {e}")


def test_viseme_table_and_alphabets():
    assert viseme_of("p", "espeak") == viseme_of("B") == viseme_of("m", "espeak") == "PBM"
    assert viseme_of("T", "espeak") == "TH" and viseme_of("T", "arpabet") == "TDNL"
    assert viseme_of("f", "espeak") == viseme_of("V") == "FV"
    assert viseme_of("u:", "espeak") == viseme_of("UW1") == "UW"
    assert viseme_of("A:", "espeak") == viseme_of("AA") == "AA"
    assert viseme_of("aI", "espeak") == viseme_of("AY") == ("AA", "IY")
    assert viseme_of("_:", "espeak") == viseme_of("sil") == viseme_of("SIL") == "sil"
    assert viseme_of("'i:", "espeak") == "IY" and viseme_of("t2", "espeak") == "TDNL"
    assert detect_alphabet(["sil", "h", "@", "l", "oU"]) == "espeak"
    assert detect_alphabet(["SIL", "HH", "AH0", "L", "OW1"]) == "arpabet"
    for cls, (targets, *_rest) in VISEMES.items():
        assert set(targets) <= set(ARTIC), cls
    assert transcript_words("In 1984, Bob's 2 cats!") == ["in", "one", "thousand", "nine", "hundred", "eighty",
                                                            "four", "bob's", "two", "cats"]
    assert guess_pronunciation("vasa") == "V AE S AE"


def test_coarticulation_matches_reference():
    segs = viseme_segments([Phone(0.0, 0.1, "SIL"), Phone(0.1, 0.16, "M"), Phone(0.16, 0.3, "AA1"),
                            Phone(0.3, 0.35, "P"), Phone(0.35, 0.5, "UW"), Phone(0.5, 0.8, "SIL")])
    times = np.arange(0, 0.8, 0.01)
    fast = coarticulate(segs, times)
    ref = np.zeros_like(fast)  # direct formula, one time and one parameter at a time
    for i, t in enumerate(times):
        for j, name in enumerate(ARTIC):
            num, den = 1e-6 * (1.0 if name == "lip_open" else 0.0), 1e-6  # the rest pose, negligible weight
            for s, e, cls in segs:
                targets, a_jaw, a_lips, theta = VISEMES[cls]
                d = (a_jaw if name == "jaw" else a_lips) * np.exp(-theta * max(0.0, s - t, t - e))
                num += d * targets.get(name, 1.0 if name == "lip_open" else 0.0)
                den += d
            ref[i, j] = num / den
        mask = max([0.5 + 0.5 * np.cos(np.pi * min(1.0, max(0.0, s - t, t - e) / 0.03))
                    for s, e, cls in segs if cls == "PBM"])  # the closure constraint of bilabials
        for name in ("lip_open", "lower_down", "upper_up"):     # everything that parts the lips
            ref[i, ARTIC.index(name)] *= 1.0 - mask
    np.testing.assert_allclose(fast, ref, atol=1e-4)  # the fast path drops dominance beyond 0.6 s (< e^-12)
    lip = fast[:, ARTIC.index("lip_open")]
    assert lip[13] < 0.02 and lip[32] < 0.02  # full closure inside M and P
    assert fast[22, ARTIC.index("jaw")] > 0.4  # AA opens the jaw


def test_alignment_on_shared_clips():
    for stem in ("a02_en_ljspeech_LJ001-0001", "a01_en_jfk_inaugural"):
        x, sr, text = read_clip(stem)
        x16 = prepare_wave(x, sr)
        feats = compute_features(x16)
        phones, source = find_phones(x16, feats, text)
        assert source == "aligned", stem
        starts = np.array([p.start_s for p in phones])
        assert np.all(np.diff(starts) >= 0) and all(p.end_s >= p.start_s for p in phones)
        speech = [p for p in phones if p.phone != "SIL"]
        n_words = len(transcript_words(text))
        assert len(speech) >= 2.5 * n_words  # about 3 phones a word
        voiced_t = feats.times_s[feats.openness > 0.3]
        covered = np.zeros(len(voiced_t), bool)
        for p in speech:
            covered |= (voiced_t >= p.start_s - 0.02) & (voiced_t <= p.end_s + 0.02)
        assert covered.mean() > 0.95, stem
        assert speech[0].start_s <= voiced_t[0] + 0.1  # (the JFK clip ends in crowd noise: no end check)


def test_long_audio_is_aligned_in_chunks():
    clips = [read_clip(stem) for stem in ("a01_en_jfk_inaugural", "a02_en_ljspeech_LJ001-0001")]
    x16 = np.concatenate([prepare_wave(x, sr) for x, sr, _ in clips] * 2)  # ~41 s > LONG_AUDIO_S
    text = " ".join(text for _, _, text in clips)
    text = text + " " + text
    cuts = pause_cuts(x16)
    assert len(cuts) >= 2 and cuts[0][0] == 0 and cuts[-1][1] == len(x16)
    assert all(b == c for (_, b), (c, _) in zip(cuts, cuts[1:]))
    phones = align_transcript(x16, text)
    assert phones is not None
    starts = np.array([p.start_s for p in phones])
    assert np.all(np.diff(starts) >= -1e-9)
    single = [p for p in align_transcript(x16[: len(x16) // 2], " ".join(t for _, _, t in clips)) if p.phone != "SIL"]
    speech = [p for p in phones if p.phone != "SIL"]
    assert abs(len(speech) - 2 * len(single)) <= 4  # every word aligned once (pronunciation variants aside)
    assert speech[-1].end_s > len(x16) / 16000 - 1.5


def test_recognition_without_transcript():
    x, sr, _ = read_clip("a02_en_ljspeech_LJ001-0001")
    x16 = prepare_wave(x, sr)
    phones, source = find_phones(x16, compute_features(x16))
    assert source == "recognized" and len(phones) > 50
    assert sum(viseme_of(p.phone) == "PBM" for p in phones) >= 3


def test_non_english_transcript_uses_acoustic_fallback():
    x, sr, text = read_clip("a09_zh_aishell_BAC009S0764W0121")
    x16 = prepare_wave(x, sr)
    _, source = find_phones(x16, compute_features(x16), text)
    assert source == "acoustic"
    m = motion_from_audio(x, sr, text)
    gap, jaw = lip_gap(m), m.coeff("jawOpen")
    speaking = jaw > 0.05
    assert jaw.max() > 0.2
    # the lips close between syllables: closures inside the speech, not only in the pauses
    first, last = np.flatnonzero(speaking)[[0, -1]]
    closures = np.flatnonzero(gap[first:last] <= CLOSED_GAP)
    assert len(closures) >= 5


def test_acoustic_phones_alternate():
    x, sr, _ = read_clip("a02_en_ljspeech_LJ001-0001")
    phones = acoustic_phones(compute_features(prepare_wave(x, sr)))
    vowels = [p for p in phones if p.phone in ("AA", "AH", "EH", "IY", "OW")]
    assert 20 <= len(vowels) <= 60  # ~ the syllable count of the sentence (~38)
    assert all(b.start_s >= a.start_s for a, b in zip(phones, phones[1:]))


def test_tts_phones_bilabial_closure_and_vowel_opening(tts):
    lead = MotionConfig().visual_lead_s
    closure, ratio, ratio_audio_time = [], [], []
    for speech in tts:
        m = motion_from_audio(speech.wave, speech.sr, phones=speech.phones)
        c, r = lip_sync_scores(m, speech.phones, lead)  # jaw means over the phones as shown (visual lead)
        closure.append(c)
        ratio.append(r)
        ratio_audio_time.append(lip_sync_scores(m, speech.phones)[1])
    assert np.mean(closure) >= 0.9, closure
    assert min(ratio) >= 2.0, ratio
    assert min(ratio_audio_time) >= 1.5, ratio_audio_time


def test_tts_aligned_bilabial_closure(tts):
    for speech, text in zip(tts, SENTENCES):
        m = motion_from_audio(speech.wave, speech.sr, text)
        closure, ratio = lip_sync_scores(m, speech.phones, MotionConfig().visual_lead_s)  # true (espeak) times
        assert closure >= 0.9 and ratio >= 1.8, (text, closure, ratio)


def test_tts_bilabials_close_without_transcript(tts):
    # recognised phones + lip closures from acoustic evidence (vasa3d.motion.closures); phone recognition alone
    # closed 0.81, 0.62, 0.60 of these sentences' p/b/m (mean 0.68). espeak-ng's output varies a little from call
    # to call in one process (even re-initialised; lengths differ by a few samples), and one sentence's 13 p/b/m
    # then closed from 0.62 to 0.94 in full-suite runs: the bounds leave room for that, not for the old behaviour
    closure = [lip_sync_scores(motion_from_audio(s.wave, s.sr), s.phones)[0] for s in tts]
    assert np.mean(closure) >= 0.75 and min(closure) >= 0.5, closure


def test_tts_silence_rests(tts):
    speech = tts[1]
    gap_s = 1.0
    pad = np.zeros(int(gap_s * speech.sr), np.float32)
    wave = np.concatenate([speech.wave, pad, speech.wave])
    shift = speech.duration_s + gap_s
    phones = list(speech.phones) + [Phone(speech.duration_s, shift, "sil")] + \
        [Phone(p.start_s + shift, p.end_s + shift, p.phone) for p in speech.phones]
    for kwargs in ({"phones": phones}, {"transcript": SENTENCES[1] + " " + SENTENCES[1]}):
        m = motion_from_audio(wave, speech.sr, **kwargs)
        t = m.times_s
        rest = (t > speech.duration_s + 0.3) & (t < shift - 0.35)
        assert rest.sum() >= 7
        for name in MOUTH:
            track = m.coeff(name)[rest]
            assert np.all(track == track[0]) and track[0] == 0.0, (kwargs.keys(), name)


def test_transcript_motion_is_deterministic():
    x, sr, text = read_clip("a02_en_ljspeech_LJ001-0001")
    a = motion_from_audio(x, sr, text, config=MotionConfig(seed=7))
    b = motion_from_audio(x, sr, text, config=MotionConfig(seed=7))
    for field in ("coeffs", "head_rotation", "head_translation", "gaze"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_head_motion_smooth_and_starts_at_rest():
    x, sr, text = read_clip("a01_en_jfk_inaugural")
    m = motion_from_audio(x, sr, text)
    rot = m.head_rotation
    assert np.abs(rot[0]).max() < 1e-3  # the first frame is (almost) the photo's pose
    assert np.abs(np.diff(rot, axis=0)).max() <= 0.6 / m.fps + 1e-6
    assert np.abs(np.diff(rot, n=2, axis=0)).max() < 0.01  # no jerks
    assert 0.01 < np.abs(rot).max() < 0.2
    assert m.coeff("browInnerUp").max() > 0.05  # some emphasis


def test_pitch_track_on_tone():
    t = np.arange(16000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 150 * t) + 0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    f0, aper = pitch_track(x)
    mid = f0[10:-10]
    assert np.all(np.abs(mid - 150) < 3) and np.all(aper[10:-10] < 0.1)
    f0_noise, _ = pitch_track(np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1)
    assert (f0_noise > 0).mean() < 0.3


def test_plot_motion(tmp_path):
    pytest.importorskip("matplotlib")
    from vasa3d.motion.plot import plot_motion

    wave = syllables(2.0)
    m = motion_from_audio(wave, SR, config=MotionConfig(lip_sync="acoustic"))
    out = plot_motion(m, wave, SR, [Phone(0.1, 0.2, "AA"), (0.2, 0.3, "M")], tmp_path / "motion.png")
    assert out.exists() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["motion.png"]


def test_with_head_pose_resamples_and_ping_pongs_a_shorter_track():
    from vasa3d.motion import MotionSequence

    speech = MotionSequence.rest(100, 25.0, ("jawOpen",))
    speech.coeffs[:, 0] = np.linspace(0, 1, 100)
    yaw = np.linspace(0.0, 0.3, 31)                         # 1 s at 30 fps: a 0.3 rad turn
    pose = MotionSequence(30.0, (), np.zeros((31, 0)), np.stack([0 * yaw, yaw, 0 * yaw], 1),
                          np.stack([yaw * 0.01, 0 * yaw, 0 * yaw], 1), np.zeros((31, 2)))
    out = speech.with_head_pose(pose)
    assert out.num_frames == 100 and out.fps == 25.0
    assert np.array_equal(out.coeffs, speech.coeffs)           # the mouth is the speech's
    y = out.head_rotation[:, 1]
    assert y[0] == 0.0 and y[25] == pytest.approx(0.3, abs=1e-6)  # resampled to 25 fps
    assert np.abs(np.diff(y)).max() <= 0.3 / 25 + 1e-6           # ping-pong: never jumps back
    assert y[50] == pytest.approx(0.0, abs=1e-6) and y[75] == pytest.approx(0.3, abs=1e-6)
    assert out.head_translation[25, 0] == pytest.approx(0.003, abs=1e-6)
    with pytest.raises(ValueError, match="no frames"):
        speech.with_head_pose(MotionSequence.rest(0, 25.0))


def test_motion_command_takes_the_head_pose_from_an_arkit_csv(tmp_path):
    from vasa3d.cli import main
    from vasa3d.io import write_wav
    from vasa3d.motion import MotionSequence

    n = 50
    yaw = 0.2 * np.sin(np.linspace(0, 2 * np.pi, n))
    pose = MotionSequence(25.0, (), np.zeros((n, 0)), np.stack([0 * yaw, yaw, 0 * yaw], 1), np.zeros((n, 3)),
                          np.zeros((n, 2)))
    full = MotionSequence(25.0, pose.names, pose.coeffs, pose.head_rotation, pose.head_translation, pose.gaze)
    full.to_arkit_csv(tmp_path / "pose.csv")
    write_wav(tmp_path / "tone.wav", 0.3 * np.sin(np.linspace(0, 2000, 32000)).astype(np.float32), 16000)
    assert main(["motion", str(tmp_path / "tone.wav"), "-o", str(tmp_path / "m.npz"),
                 "--head-pose", str(tmp_path / "pose.csv")]) == 0
    m = MotionSequence.load(tmp_path / "m.npz")
    assert m.num_frames == 50
    np.testing.assert_allclose(m.head_rotation[:, 1], yaw, atol=1e-4)
    assert main(["motion", str(tmp_path / "tone.wav"), "-o", str(tmp_path / "m2.npz"),
                 "--head-pose", str(tmp_path / "missing.csv")]) == 2
    (tmp_path / "bad.csv").write_text("Timecode,HeadYaw\n00:00:00:00.000,abc\n")
    assert main(["motion", str(tmp_path / "tone.wav"), "-o", str(tmp_path / "m3.npz"),
                 "--head-pose", str(tmp_path / "bad.csv")]) == 2
    assert not (tmp_path / "m2.npz").exists() and not (tmp_path / "m3.npz").exists()
