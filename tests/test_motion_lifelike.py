"""Lifelike motion: alignment in any espeak language, mouth amplitude, emotion presets, head-motion styles, and
the motion benchmark's phone classes."""

from __future__ import annotations

import numpy as np
import pytest

from vasa3d.arkit import MOTION_BLENDSHAPES
from vasa3d.config import MotionConfig
from vasa3d.errors import InputError
from vasa3d.io import synthesize_speech
from vasa3d.motion import lip_gap, motion_from_audio
from vasa3d.motion.dtw_align import align_by_synthesis, dtw_path
from vasa3d.motion.emotion import emotion_tracks
from vasa3d.motion.features import compute_features, prepare_wave
from vasa3d.motion.model import find_phones
from vasa3d.motion.visemes import ARTIC, coarticulate

FR_TEXT = "Le petit bateau blanc passe sous le pont de pierre, puis il disparaît."


@pytest.fixture(scope="module")
def french_recording():
    """French espeak speech in another voice and rate than the aligner's, with silence around it and noise:
    (wave [S] at 16 kHz, truth phones shifted by the 0.5 s lead)."""
    rec = synthesize_speech(FR_TEXT, voice="fr+f2", rate_wpm=125)
    x = prepare_wave(rec.wave, rec.sr)
    x = np.concatenate([np.zeros(8000, np.float32), x, np.zeros(4000, np.float32)])
    x = x + np.random.default_rng(0).normal(0, 0.003, len(x)).astype(np.float32)
    return x, [(p.start_s + 0.5, p.end_s + 0.5, p.phone) for p in rec.phones]


def test_dtw_path_recovers_a_time_stretch():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(40, 3)).astype(np.float32)
    b = np.repeat(a, 2, axis=0)                       # b[j] = a[j // 2]
    path = dtw_path(a, b)
    assert tuple(path[0]) == (0, 0) and tuple(path[-1]) == (39, 79)
    assert np.all(np.diff(path, axis=0) >= 0)
    assert np.all(path[:, 0] == path[:, 1] // 2)


def test_align_by_synthesis_finds_french_phone_times(french_recording):
    x, truth = french_recording
    found = align_by_synthesis(x, FR_TEXT, "fr")
    speech_truth = [t for t in truth if t[2] != "sil"]
    speech_found = [p for p in found if p.phone != "sil"]
    assert [t[2] for t in speech_truth] == [p.phone for p in speech_found]
    err = np.abs([t[0] - p.start_s for t, p in zip(speech_truth, speech_found)])
    assert np.median(err) < 0.03 and np.percentile(err, 90) < 0.08
    assert found[0].phone == "sil" and found[0].end_s > 0.4      # the leading silence stays silent


def test_language_routes_a_transcript_to_the_synthesis_aligner(french_recording):
    x, truth = french_recording
    phones, source = find_phones(x, compute_features(x), FR_TEXT, language="fr")
    assert source == "aligned" and any(p.phone == "A~" for p in phones)    # espeak's French nasal vowel
    m = motion_from_audio(x, 16000, FR_TEXT, config=MotionConfig(language="fr"))
    gap = lip_gap(m)
    bilabial = [t for t in truth if t[2] in ("p", "b", "m")]
    lead = MotionConfig().visual_lead_s        # frame t shows the mouth of time t / fps + lead
    closed = [gap[int(np.ceil((s - lead - 0.04) * 25)):int((e - lead + 0.04) * 25) + 1].min() < 0.02
              for s, e, _ in bilabial]
    assert np.mean(closed) >= 0.9


def test_open_vowels_drop_the_jaw_between_bilabials():
    segs = [(0.0, 0.2, "sil"), (0.2, 0.28, "PBM"), (0.28, 0.4, "AA"), (0.4, 0.47, "PBM"), (0.47, 0.57, "IY"),
            (0.57, 0.64, "PBM"), (0.64, 0.8, "UW")]
    t = np.arange(0, 0.9, 0.01)
    a = coarticulate(segs, t)
    jaw, lip = a[:, ARTIC.index("jaw")], a[:, ARTIC.index("lip_open")]
    assert jaw[(t > 0.3) & (t < 0.38)].max() > 0.5                    # a short open vowel still opens wide
    assert lip[(t > 0.42) & (t < 0.45)].max() == 0.0                  # and the next bilabial closes fully
    iy, uw = (t > 0.5) & (t < 0.55), (t > 0.7) & (t < 0.78)
    assert a[iy, ARTIC.index("stretch")].mean() > 0.1                 # spread /i/
    assert a[uw, ARTIC.index("pucker")].mean() > 0.7                   # rounded /u/


def test_emotion_presets_add_under_speech_and_neutral_changes_nothing():
    speech = {"mouthPucker": np.array([0.0, 1.0], np.float32), "jawOpen": np.array([0.3, 0.1], np.float32)}
    assert emotion_tracks("neutral", 1.0, speech, 2).keys() == speech.keys()
    happy = emotion_tracks("happy", 1.0, speech, 2)
    assert happy["mouthSmileLeft"][0] > 0.5 and happy["mouthSmileLeft"][1] < 0.25    # rounded lips damp it
    assert happy["cheekSquintRight"][0] > 0.4 and np.all(happy["jawOpen"] == speech["jawOpen"])
    assert emotion_tracks("angry", 0.5, {}, 1)["browDownLeft"][0] == pytest.approx(0.375)
    with pytest.raises(ValueError):
        emotion_tracks("bored", 1.0, {}, 1)


def test_motion_styles_emotion_and_head_motion():
    rec = synthesize_speech("Maybe my mother made apple pie.", voice="en-us")
    x = prepare_wave(rec.wave, rec.sr)
    base = motion_from_audio(x, 16000)
    assert base.names == MOTION_BLENDSHAPES
    sad = motion_from_audio(x, 16000, config=MotionConfig(emotion="sad", emotion_intensity=0.8))
    assert "mouthFrownLeft" in sad.names and sad.coeff("browInnerUp").min() >= 0.5
    assert np.allclose(sad.coeff("jawOpen"), base.coeff("jawOpen"))
    still = motion_from_audio(x, 16000, config=MotionConfig(head_motion="still"))
    lively = motion_from_audio(x, 16000, config=MotionConfig(head_motion="lively"))
    assert np.abs(still.head_rotation).max() == 0.0
    assert np.abs(lively.head_rotation).max() > 1.5 * np.abs(base.head_rotation).max()


def test_bad_style_options_raise_input_error(tmp_path):
    from vasa3d import cli
    from vasa3d.validate import check_motion_config

    for cfg in (MotionConfig(language="xx"), MotionConfig(emotion="bored"), MotionConfig(emotion_intensity=3.0),
                MotionConfig(head_motion="wild"), MotionConfig(language="f r")):
        with pytest.raises(InputError):
            check_motion_config(cfg)
    assert check_motion_config(MotionConfig(language="es")).language == "es"
    assert cli.main(["say", "hola", "--language", "zz", "-o", str(tmp_path / "x.wav")]) == 2
    assert not (tmp_path / "x.wav").exists()


def test_motion_check_phone_classes():
    from eval.motion_check import _class_of

    assert [_class_of(p) for p in ("p", "b", "m", "m-", "a", "A~", "'aI", "O:", "V", "0")] == ["P"] * 4 + ["AA"] * 6
    assert [_class_of(p) for p in ("t", "i:", "u", "sil", "_:", "e")] == ["X", "X", "X", "SIL", "SIL", "X"]



def test_motion_check_sentence_phones(tmp_path):
    from conftest import data

    from eval.motion_check import SR, sentence_phones
    from vasa3d.io import read_audio

    wav = data("audio/a02_en_ljspeech_LJ001-0001.wav")
    wave = np.concatenate([np.zeros(SR, np.float32), read_audio(wav, sr=SR).astype(np.float32)])
    words = wav.with_suffix(".txt").read_text(encoding="utf-8").strip()
    tsv = tmp_path / "t.tsv"
    tsv.write_text(f"start\tend\tclip\twords\n1.0\t{len(wave) / SR:.3f}\tlj\t{words}\n", encoding="utf-8")
    phones = sentence_phones(wave, tsv)
    assert phones and phones[0].start_s >= 1.0 and phones[-1].end_s <= len(wave) / SR + 0.01
    classes = {p.phone for p in phones}
    assert {"P", "AA"} <= classes and not classes & {"B", "M", "AE", "AO"}   # classed for the metrics


def test_motion_check_silence_cores_leave_out_the_edges():
    from eval.metrics.silence import silence_lip_motion
    from eval.motion_check import FPS, SILENCE_EDGE_S, silence_cores

    assert silence_cores([(1.0, 2.0), (3.0, 3.3)]) == [(1.0 + SILENCE_EDGE_S, 2.0 - SILENCE_EDGE_S)]
    # a 1 s pause (frames 25-49): lips closing over its first 3 frames and opening over its last 2, still between
    gap = np.full(100, 0.05)
    gap[25:50] = 0.0
    gap[25:28], gap[48:50] = [0.04, 0.02, 0.01], [0.02, 0.04]
    pause = [(1.0, 2.0)]
    assert silence_lip_motion(gap, FPS, pause).value > 0.05
    assert silence_lip_motion(gap, FPS, silence_cores(pause)).value == 0.0
