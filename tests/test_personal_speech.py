"""The person-specific speech model (`vasa3d.motion.personal`): it recovers a known way of articulating from a
recording and its "tracked" motion, survives the avatar file, and `talk` uses it for a fitted avatar unless told
not to."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from vasa3d.config import MotionConfig
from vasa3d.errors import InputError
from vasa3d.motion import motion_from_audio
from vasa3d.motion.personal import (CONTEXT_S, INPUTS, MOUTH_NAMES, PersonalSpeechModel, learn_speech_model)


@pytest.fixture(scope="module")
def sentences():
    """Two recordings of two espeak sentences each (16 kHz waves, ~8 s) with their exact phones: one to learn
    from, one held out."""
    from vasa3d.io.tts import synthesize_speech
    from vasa3d.motion.features import prepare_wave

    texts = (("Bob bought a map and a big blue boat for the long warm summer trip to Rome.",
              "Who knew the moon would loom so blue over the old stone pool?"),
             ("Please pass me the apple pie, my father made it in a hurry.",
              "Two cool shoes and a rude goose flew over your room at noon."))
    out = []
    for pair in texts:
        waves, phones, offset = [], [], 0.0
        for text in pair:
            s = synthesize_speech(text)
            waves.append(prepare_wave(s.wave, s.sr))
            phones += [replace(p, start_s=p.start_s + offset, end_s=p.end_s + offset) for p in s.phones]
            offset += len(waves[-1]) / 16000
        out.append((np.concatenate(waves), tuple(phones)))
    return out


def _someone(motion, scale: dict[str, float]):
    """A person who articulates like the generic model with some shapes scaled: `motion` with those columns
    multiplied (the stand-in for what the tracker would measure)."""
    coeffs = motion.coeffs.copy()
    for name, s in scale.items():
        coeffs[:, motion.names.index(name)] *= s
    return replace(motion, coeffs=np.clip(coeffs, 0, 1))


def _constant_model(values: dict[str, float]) -> PersonalSpeechModel:
    """A model that ignores the audio and holds the given coefficients."""
    d, k = len(CONTEXT_S) * len(INPUTS), len(MOUTH_NAMES)
    bias = np.float32([values.get(n, 0.0) for n in MOUTH_NAMES])
    return PersonalSpeechModel(names=MOUTH_NAMES, inputs=INPUTS, offsets_s=np.float32(CONTEXT_S), lead_s=0.05,
                               mean=np.zeros(d, np.float32), scale=np.ones(d, np.float32),
                               weights=np.zeros((d, k), np.float32), bias=bias, penalty=np.ones(k, np.float32),
                               frames=100, cv_corr=np.full(k, np.nan, np.float32), gain=np.ones(k, np.float32))


def test_learning_recovers_a_known_amplitude_on_held_out_speech(sentences):
    (train, train_phones), (test, test_phones) = sentences
    generic_train = motion_from_audio(train, 16000, phones=train_phones)
    scale = {"jawOpen": 0.5, "mouthPucker": 0.6, "mouthFunnel": 1.5}      # none reaches 1 (no clipping)
    model = learn_speech_model(train, 16000, _someone(generic_train, scale), phones=train_phones)
    assert model.names == MOUTH_NAMES and model.frames == generic_train.num_frames

    generic = motion_from_audio(test, 16000, phones=test_phones)
    mine = motion_from_audio(test, 16000, phones=test_phones, personal=model)
    for name, s in scale.items():
        g, p = generic.coeff(name), mine.coeff(name)
        slope = float(g @ p / (g @ g))
        assert abs(slope - s) < 0.1 * s, (name, slope)
        assert np.corrcoef(g, p)[0, 1] > 0.9, name
    # the shapes left alone stay as the generic model makes them
    g, p = generic.coeff("mouthLowerDownLeft"), mine.coeff("mouthLowerDownLeft")
    assert np.corrcoef(g, p)[0, 1] > 0.9 and abs(float(g @ p / (g @ g)) - 1.0) < 0.1


def test_too_little_speech_is_refused(sentences):
    (train, phones), _ = sentences
    motion = motion_from_audio(train, 16000, phones=phones)
    with pytest.raises(InputError, match="too little"):
        learn_speech_model(np.zeros(16000 * 6, np.float32), 16000, motion)
    with pytest.raises(InputError, match="too little"):
        learn_speech_model(train[:16000 * 2], 16000, motion.slice(0, 50), phones=phones)


def test_the_speech_model_survives_the_avatar_file(tmp_path, obama_avatar, sentences):
    from vasa3d.avatar import Avatar

    (train, phones), (test, test_phones) = sentences
    model = learn_speech_model(train, 16000, motion_from_audio(train, 16000, phones=phones), phones=phones)
    path = replace(obama_avatar, speech_model=model).save(tmp_path / "me.npz")
    loaded = Avatar.load(path).speech_model
    for key, value in model.to_npz_dict().items():
        np.testing.assert_array_equal(loaded.to_npz_dict()[key], value)
    a = motion_from_audio(test, 16000, phones=test_phones, personal=model)
    b = motion_from_audio(test, 16000, phones=test_phones, personal=loaded)
    np.testing.assert_array_equal(a.coeffs, b.coeffs)
    with np.load(path) as d:
        assert json.loads(str(d["header"]))["speech_model"]["frames"] == model.frames
        arrays = {k: d[k] for k in d.files}

    assert Avatar.load(obama_avatar.save(tmp_path / "photo.npz")).speech_model is None     # files without one
    arrays["speech_weights"] = arrays["speech_weights"][:-1]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match="speech_weights"):
        Avatar.load(tmp_path / "bad.npz")


def test_talk_speaks_with_the_avatars_own_model_unless_told_not_to(tmp_path, obama_avatar, capsys):
    from vasa3d.cli import main
    from vasa3d.io.audio import write_wav
    from vasa3d.pipeline import TalkingHeadPipeline, TalkRequest

    wav = tmp_path / "s.wav"
    t = np.arange(4800) / 16000.0
    write_wav(wav, (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), 16000)
    model = _constant_model({"jawOpen": 0.3, "mouthFunnel": 0.2})
    motion = motion_from_audio((0.01 * np.sin(t * 900)).astype(np.float32), 16000, personal=model,
                               config=MotionConfig(lip_sync="acoustic"))
    assert np.allclose(motion.coeff("jawOpen"), 0.3) and np.allclose(motion.coeff("mouthFunnel"), 0.2)

    avatar_file = replace(obama_avatar, speech_model=model).save(tmp_path / "me.npz")
    assert main(["talk", str(avatar_file), str(wav), "-o", str(tmp_path / "a.mp4"), "--size", "64"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["speech_model"] == "personal"
    generic = TalkingHeadPipeline().run(TalkRequest(image=avatar_file, audio=wav, output=tmp_path / "b.mp4", size=64,
                                                    personal_speech=False))
    assert generic.speech_model == "generic"


def test_a_fit_keeps_the_speech_model_only_when_it_beats_the_generic_one(sentences, obama_avatar):
    from vasa3d.motion.visemes import lip_gap
    from vasa3d.video_mode import Clip, learn_speech

    (train, phones), _ = sentences
    motion = motion_from_audio(train, 16000)
    T = motion.num_frames
    landmarks = np.zeros((T, 478, 2), np.float32)
    landmarks[:, 152, 1] = 100.0                                   # face height 100 px
    landmarks[:, 14, 1] = 100.0 * lip_gap(motion)                  # the "real" lips open as the generic model's
    track = SimpleNamespace(motion=motion, found=np.ones(T, bool), landmarks_px=landmarks)
    frames = np.zeros((T, 4, 4, 3), np.uint8)
    model, summary = learn_speech(Clip(frames, 25.0, 0.0, train), track, obama_avatar.head)
    assert summary["frames"] == T and summary["cv_corr"]["jawOpen"] > 0.5
    assert summary["generic_gap_corr"] > 0.9                       # the truth here is the generic model itself
    assert (model is not None) == (summary["cv_gap_corr"] > summary["generic_gap_corr"])
    assert "skipped" in summary or isinstance(model, PersonalSpeechModel)

    assert learn_speech(Clip(frames, 25.0, 0.0, None), track, obama_avatar.head) == (
        None, {"skipped": "the video has no sound"})


def test_variance_compensation_restores_a_shrunk_range():
    from vasa3d.motion.personal import MAX_GAIN, variance_gain

    rng = np.random.default_rng(0)
    y = np.abs(rng.normal(0, 0.2, (400, 3)))
    silent = np.arange(400) < 100
    y[silent] = 0.05
    pred = 0.05 + np.stack([0.8, 0.5, 0.1], axis=0) * (y - 0.05)       # shrunk toward the rest value 0.05
    gain, rest = variance_gain(pred, y, silent)
    np.testing.assert_allclose(rest, 0.05)
    np.testing.assert_allclose(gain, [1 / 0.8, 1 / 0.5, MAX_GAIN], rtol=1e-6)


def test_speech_check_reads_the_held_out_words_and_measures_lip_gaps(tmp_path):
    from eval.speech_check import landmark_gap, transcript_between

    tsv = tmp_path / "v.transcript.tsv"
    tsv.write_text("start_s\tend_s\tgrid_clip\ttranscript\n0.0\t3.0\ta\tbin blue\n3.0\t6.0\tb\tlay red\n"
                   "6.0\t9.0\tc\tset white\n", encoding="utf-8")
    assert transcript_between(tsv, 3.0, 9.0) == "lay red set white"
    assert transcript_between(tsv, 10.0, 12.0) is None and transcript_between(tmp_path / "no.tsv", 0, 9) is None
    lm = np.zeros((2, 478, 2), np.float32)
    lm[:, 10], lm[:, 152] = (0, 0), (0, 100)                 # face height 100 px
    lm[:, 13], lm[:, 14] = (0, 60), (0, 60)
    lm[1, 14] = (0, 65)
    np.testing.assert_allclose(landmark_gap(lm), [0.0, 0.05])
