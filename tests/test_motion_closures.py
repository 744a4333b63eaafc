"""Lip closures from acoustic evidence (vasa3d.motion.closures) and the speech-presence gate that lets the mouth
settle in pauses."""

from __future__ import annotations

import numpy as np

from vasa3d.config import MotionConfig
from vasa3d.motion import motion_from_audio
from vasa3d.motion.closures import RELEASE_S, Evidence, add_closures, closure_evidence, is_lip_closure
from vasa3d.motion.features import compute_features
from vasa3d.motion.mouth import SPEECH_HANGOVER_S, SPEECH_PREROLL_S, SPEECH_RAMP_S
from vasa3d.motion.phones import Phone

SR = 16000


def vowel(duration_s: float, f0: float = 120.0) -> np.ndarray:
    """[S] float32 vowel-like tone: harmonics of f0 up to 4 kHz with 1/k amplitudes (energy in the mid bands)."""
    t = np.arange(int(duration_s * SR)) / SR
    x = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, int(4000 / f0)))
    return (0.1 * x).astype(np.float32)


def murmur(duration_s: float) -> np.ndarray:
    """[S] float32 nasal-murmur-like tone: 200 Hz only, about 8 dB below `vowel`."""
    t = np.arange(int(duration_s * SR)) / SR
    return (0.05 * np.sin(2 * np.pi * 200 * t)).astype(np.float32)


def test_closure_evidence_finds_a_stop_gap_and_a_nasal_murmur_but_nothing_in_vowels():
    pause = np.zeros(int(0.3 * SR), np.float32)        # silence around it sets the noise gate's floor
    parts = [pause, vowel(0.3), np.zeros(int(0.08 * SR), np.float32), vowel(0.3), murmur(0.08), vowel(0.3), pause]
    x = np.concatenate(parts)
    ev = closure_evidence(x, compute_features(x))
    stops = [e for e in ev if e.kind == "stop"]
    nasals = [e for e in ev if e.kind == "nasal"]
    assert len(stops) == 1 and 0.57 <= stops[0].start_s and stops[0].end_s <= 0.71, ev
    assert len(nasals) == 1 and nasals[0].end_s > 1.0 and nasals[0].start_s < 1.06, ev
    vowels = [(0.33, 0.57), (0.71, 0.95), (1.11, 1.33)]
    assert not [e for e in ev for a, b in vowels if e.start_s < b and e.end_s > a], ev


def test_a_shallow_dip_is_weak_evidence_only():
    pause = np.zeros(int(0.3 * SR), np.float32)
    x = np.concatenate([pause, vowel(0.3), 0.25 * vowel(0.06), vowel(0.3), pause])   # 12 dB down for 60 ms
    ev = closure_evidence(x, compute_features(x))
    assert [e.kind for e in ev] == ["weak"], ev
    assert 0.58 <= ev[0].start_s and ev[0].end_s <= 0.68, ev


def test_lip_closure_rule():
    weak, strong = Evidence(1.0, 1.06, "stop", -20.0), Evidence(1.0, 1.06, "stop", 2.0)
    nasal = Evidence(1.0, 1.05, "nasal", -np.inf)
    assert is_lip_closure(weak, {"G"}) and is_lip_closure(strong, {"B"}) and is_lip_closure(nasal, set())
    assert not is_lip_closure(strong, {"T"})       # a strong high-frequency burst: t or k
    assert not is_lip_closure(weak, {"AA", "S"})   # no stop or nasal heard there
    dip = Evidence(1.0, 1.05, "weak", -np.inf)
    assert is_lip_closure(dip, {"W", "AY"}) and is_lip_closure(dip, {"M"})
    assert not is_lip_closure(dip, {"N"}) and not is_lip_closure(dip, {"D", "AA"})  # a weak dip needs a labial
    phones = [Phone(0.9, 1.0, "AA"), Phone(1.0, 1.07, "T"), Phone(1.07, 1.2, "IY"), Phone(1.3, 1.4, "K")]
    out = add_closures(phones, [strong, Evidence(1.31, 1.36, "stop", -15.0)])
    assert [p.phone for p in out] == ["AA", "T", "IY", "K", "PBM"]
    assert out[-1] == Phone(1.31, 1.36 + RELEASE_S, "PBM")  # a stop: pressed lips, held until the release
    murmur = Evidence(1.31, 1.36, "nasal", -np.inf)
    assert add_closures(phones, [murmur])[-1] == Phone(1.31, 1.36, "CL")    # /n/ or /ng/ likely: no press
    labial = phones[:3] + [Phone(1.3, 1.4, "M")]
    assert add_closures(labial, [murmur])[-1] == Phone(1.31, 1.36, "PBM")


def test_mouth_settles_soon_after_speech_and_moves_only_just_before_it():
    x = np.concatenate([vowel(0.4), np.zeros(SR, np.float32), vowel(0.4)])
    feats = compute_features(x)
    audible = feats.times_s[feats.openness > 0]
    end = audible[audible < 0.9].max()
    start = audible[audible > 0.9].min()
    config = MotionConfig()
    m = motion_from_audio(x, SR, config=config)
    # at rest from 0.15 s after the last audible frame to 0.2 s before the next (the visual lead, the gate's
    # hangover and pre-roll, half its ramp and one frame's pooling)
    margin = SPEECH_RAMP_S / 2 + 0.5 / config.fps
    assert SPEECH_HANGOVER_S - config.visual_lead_s + margin <= 0.15
    assert SPEECH_PREROLL_S + config.visual_lead_s + margin <= 0.2
    rest = (m.times_s > end + 0.15) & (m.times_s < start - 0.2)
    assert rest.sum() >= 0.6 * config.fps
    mouth = [k for k, n in enumerate(m.names) if n.startswith(("jaw", "mouth"))]
    assert np.all(m.coeffs[rest][:, mouth] == 0.0)
    assert m.coeff("jawOpen")[m.times_s < end - 0.1].max() > 0.1    # it did move while speaking


def test_a_closure_from_evidence_presses_the_lips():
    """A stop closure judged to close the lips becomes pressed lips (mouthPress), which is what seals the mouth of an
    avatar whose photo shows parted lips (its rest pose); a murmur with no labial heard closes without press."""
    from vasa3d.motion.mouth import phone_mouth
    from vasa3d.motion.visemes import viseme_segments

    x = np.concatenate([np.zeros(int(0.3 * SR), np.float32), vowel(0.3), np.zeros(int(0.08 * SR), np.float32),
                        vowel(0.3), murmur(0.08), vowel(0.3), np.zeros(int(0.3 * SR), np.float32)])
    feats = compute_features(x)
    heard = [Phone(0.3, 0.58, "AA"), Phone(0.58, 0.7, "K"), Phone(0.7, 1.0, "AA"), Phone(1.0, 1.08, "N"),
             Phone(1.08, 1.38, "AA")]
    phones = add_closures(heard, closure_evidence(x, feats))
    assert [p.phone for p in phones if p.phone in ("PBM", "CL")] == ["PBM", "CL"], phones
    times = np.arange(int(1.7 * 25)) / 25.0
    mouth = phone_mouth(viseme_segments(phones), feats, times, 25.0, 0.0)
    press = mouth["mouthPressLeft"]
    stop = next(p for p in phones if p.phone == "PBM")
    nasal = next(p for p in phones if p.phone == "CL")
    at = lambda p: (times >= p.start_s) & (times <= p.end_s)  # noqa: E731
    assert press[at(stop)].max() > 0.3
    assert press[at(nasal)].max() < 0.1
