"""`motion_from_audio`: speech waveform (+ optional transcript or phones) -> `MotionSequence`.

Stages: 16 kHz features -> phones (given, aligned, recognised, or acoustic pseudo-phones) -> visemes with
coarticulation (or the loudness envelope) -> blinks and gaze -> prosodic head motion and brows.
Seeded: the same input and `MotionConfig.seed` give the same output bit for bit.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from vasa3d.arkit import MOTION_BLENDSHAPES
from vasa3d.config import MotionConfig
from vasa3d.motion.emotion import EMOTIONS, HEAD_MOTION_GAIN
from vasa3d.motion.eyes import blink_times, blink_track, gaze_track
from vasa3d.motion.features import AudioFeatures, compute_features, prepare_wave
from vasa3d.motion.mouth import loudness_mouth, phone_mouth
from vasa3d.motion.phones import (Phone, acoustic_phones, align_transcript, as_phones, is_english_text,
                                  recognize_phones)
from vasa3d.motion.prosody import f0_head_pitch, head_motion, pitch_track, prosodic_accents, smooth_activity
from vasa3d.motion.sequence import MotionSequence
from vasa3d.motion.visemes import viseme_segments

log = logging.getLogger(__name__)

_MOUTH_PREFIXES = ("jaw", "mouth")
_STREAMS = {"blink": 1, "gaze": 2, "head": 3, "brow": 4}


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, _STREAMS[stream]])


def _check_config(config: MotionConfig, num_frames: int | None) -> None:
    if not (config.fps > 0 and math.isfinite(config.fps)):
        raise ValueError(f"MotionConfig.fps must be positive, got {config.fps}")
    if not config.expression_scale >= 0 or not config.head_motion_scale >= 0:
        raise ValueError("MotionConfig.expression_scale and head_motion_scale must be >= 0")
    if config.lip_sync not in ("auto", "acoustic", "loudness"):
        raise ValueError(f"MotionConfig.lip_sync must be auto, acoustic or loudness, got {config.lip_sync!r}")
    if config.emotion not in EMOTIONS or not config.emotion_intensity >= 0:
        raise ValueError(f"MotionConfig.emotion must be one of {', '.join(EMOTIONS)} with intensity >= 0, "
                         f"got {config.emotion!r} at {config.emotion_intensity}")
    if config.head_motion not in HEAD_MOTION_GAIN:
        raise ValueError(f"MotionConfig.head_motion must be one of {', '.join(HEAD_MOTION_GAIN)}, "
                         f"got {config.head_motion!r}")
    if not abs(config.visual_lead_s) <= 0.5:
        raise ValueError(f"MotionConfig.visual_lead_s must be within +-0.5 s, got {config.visual_lead_s}")
    if num_frames is not None and (int(num_frames) != num_frames or num_frames < 1):
        raise ValueError(f"num_frames must be a positive integer, got {num_frames}")


def pause_starts(feat_times_s: np.ndarray, openness: np.ndarray, min_pause_s: float = 0.25) -> np.ndarray:
    """[P] float64 start times (s) of silences (openness == 0) lasting at least min_pause_s after speech."""
    silent = np.concatenate([[False], openness <= 0.0, [False]])
    edges = np.flatnonzero(np.diff(silent.astype(np.int8)))
    starts, stops = edges[0::2], edges[1::2]
    keep = (stops - starts) * (feat_times_s[1] - feat_times_s[0] if len(feat_times_s) > 1 else 0.01) \
        >= min_pause_s
    keep &= starts > 0
    return feat_times_s[np.minimum(starts[keep], len(feat_times_s) - 1)]


def brow_raises(times_s: np.ndarray, accent_times_s: np.ndarray, strengths: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """[T] float32 brow raise in [0, 1]: on ~40% of the strongest accents a 0.6-0.9 s raised-cosine bump."""
    out = np.zeros(len(times_s))
    for t0, a in zip(accent_times_s, strengths):
        if a < 0.4 or rng.random() > 0.4:
            continue
        width = rng.uniform(0.6, 0.9)
        u = (times_s - (t0 - 0.2)) / width
        out = np.maximum(out, np.where((u > 0) & (u < 1), 0.5 * (1 - np.cos(2 * np.pi * np.clip(u, 0, 1))),
                                       0) * 0.35 * a)
    return out.astype(np.float32)


def motion_from_audio(wave: np.ndarray, sr: int, transcript: str | None = None, *, phones=None,
                      config: MotionConfig = MotionConfig(), num_frames: int | None = None,
                      personal=None) -> MotionSequence:
    """Motion of a talking head for a speech recording.

    wave: [S] mono waveform (float in [-1, 1], or integer PCM); sr: its sample rate, Hz.
    transcript: the words spoken; English text is force-aligned with PocketSphinx, other scripts use the
    acoustic fallback. phones: exact phone segments (objects with start_s, end_s, phone, or tuples; espeak
    mnemonics or ARPAbet), which take precedence over the transcript (e.g. `vasa3d.io.tts.Speech.phones`).
    config: fps; expression_scale (multiplies mouth and brow coefficients); head_motion_scale (multiplies head
    rotation and translation); seed; lip_sync ("auto" phones > alignment > recognition, "acoustic", "loudness");
    visual_lead_s (mouth shapes lead the audio); language (espeak code of a non-English transcript); emotion
    and emotion_intensity (a preset expression under the speech); head_motion (still, natural, lively: multiplies
    head_motion_scale by 0, 1, 1.7). num_frames: T, default ceil(duration_s * fps) so the video is
    as long as the audio (frames past the audio's end are silence). personal: a person's own speech model
    (`vasa3d.motion.personal.PersonalSpeechModel`, e.g. `Avatar.speech_model` of an avatar fitted to a video)
    that turns the same phones into that person's mouth coefficients; None: the generic viseme mouth. It is not
    used with lip_sync "loudness".

    Method: phones -> viseme targets blended with Cohen & Massaro (1993) dominance functions, full closure on
    bilabials, scaled by loudness and gated to rest in silence (`vasa3d.motion.visemes`, `.mouth`); YIN F0
    (de Cheveigne & Kawahara 2002) and loudness -> accents -> nods, brow raises and F0-following head pitch
    over seeded sway (`.prosody`); gamma-interval blinks drawn to pauses and centre-biased gaze saccades
    (`.eyes`). Same input and seed -> identical output.

    Returns a MotionSequence with names = vasa3d.arkit.MOTION_BLENDSHAPES (+ the emotion's extra names),
    coeffs [T, K] float32 in [0, 1],
    head_rotation [T, 3] (axis-angle rad), head_translation [T, 3] (m), gaze [T, 2] (rad); see
    `vasa3d.motion.sequence` for frames and signs. In silence the mouth is at rest (all jaw/mouth coefficients
    exactly 0). Raises InputError for an empty, multi-channel or non-finite wave or a sample rate below 4 kHz;
    ValueError for a bad config, num_frames or phone segment.
    """
    _check_config(config, num_frames)
    x16 = prepare_wave(wave, sr)
    duration_s = len(np.asarray(wave)) / float(sr)
    n = int(num_frames) if num_frames is not None else max(1, math.ceil(duration_s * config.fps - 1e-9))
    times = np.arange(n) / config.fps
    feats = compute_features(x16)

    if config.lip_sync == "loudness":
        mouth = loudness_mouth(feats, times, config.visual_lead_s)
    else:
        found, source = find_phones(x16, feats, transcript, phones, config.lip_sync, config.language)
        log.debug("lip sync from %s phones (%d)", source, len(found))
        segments = viseme_segments(found)
        if personal is not None:
            mouth = personal.mouth(segments, feats, x16, times, config.fps)
        else:
            mouth = phone_mouth(segments, feats, times, config.fps, config.visual_lead_s)
    f0, _ = pitch_track(x16)
    f0[feats.openness <= 0] = 0.0
    activity = smooth_activity(times, feats.times_s, feats.openness)
    acc_t, acc_a = prosodic_accents(feats.times_s, feats.openness, f0)
    blinks = blink_track(times, blink_times(max(duration_s, n / config.fps), _rng(config.seed, "blink"),
                                            pause_starts(feats.times_s, feats.openness)), config.fps)
    gaze = gaze_track(times, _rng(config.seed, "gaze"), activity)
    rot, trans = head_motion(times, activity, acc_t, acc_a, _rng(config.seed, "head"), config.fps,
                             config.head_motion_scale * HEAD_MOTION_GAIN[config.head_motion],
                             f0_head_pitch(times, feats.times_s, f0))
    brow = brow_raises(times, acc_t, acc_a, _rng(config.seed, "brow"))

    tracks = dict(mouth)
    tracks.update({"eyeBlinkLeft": blinks, "eyeBlinkRight": blinks, "browInnerUp": brow,
                   "browOuterUpLeft": 0.6 * brow, "browOuterUpRight": 0.6 * brow})
    return assemble(tracks, rot, trans, gaze, config)


def find_phones(x16: np.ndarray, features: AudioFeatures, transcript: str | None = None, phones=None,
                lip_sync: str = "auto", language: str = "") -> tuple[list[Phone], str]:
    """Phones with times for 16 kHz speech x16 [S] float32, and where they came from.

    lip_sync "auto": the given `phones` (any objects with start_s, end_s, phone; espeak or ARPAbet) if any;
    else forced alignment of the `transcript`: PocketSphinx for English (language "" or "en*"), espeak-ng
    synthesis + DTW (`vasa3d.motion.dtw_align`) for any other espeak `language` or when PocketSphinx fails;
    else phone recognition (PocketSphinx allphone) when there is no transcript, plus lip closures ("PBM" pressed,
    "CL" not) where the audio shows a stop closure, nasal murmur or a dip under a heard labial
    (`vasa3d.motion.closures`); the acoustic pseudo-phones when the transcript is not English and no language is
    given, or when the rest fails. lip_sync "acoustic": always the acoustic pseudo-phones. Returns (phones, source) with source one of "given", "aligned", "recognized",
    "acoustic".
    """
    if lip_sync == "auto" and phones is not None:
        return as_phones(phones), "given"
    if lip_sync == "auto" and not np.any(features.openness > 0):
        return [], "acoustic"
    english = not language or language.lower().startswith("en")
    if lip_sync == "auto" and transcript and transcript.strip():
        aligned = align_transcript(x16, transcript) if english and is_english_text(transcript) else None
        if not aligned and language:
            from vasa3d.motion.dtw_align import align_by_synthesis

            aligned = align_by_synthesis(x16, transcript, language)
        if aligned:
            return aligned, "aligned"
        log.info("forced alignment failed; using acoustic lip sync")
    elif lip_sync == "auto":
        from vasa3d.motion.closures import add_closures, closure_evidence

        try:
            return add_closures(recognize_phones(x16), closure_evidence(x16, features)), "recognized"
        except RuntimeError as e:
            log.info("phone recognition failed (%s); using acoustic lip sync", e)
    return acoustic_phones(features), "acoustic"


def assemble(tracks: dict[str, np.ndarray], rot: np.ndarray, trans: np.ndarray, gaze: np.ndarray,
             config: MotionConfig) -> MotionSequence:
    """Build the MotionSequence over MOTION_BLENDSHAPES: missing tracks are 0; mouth and brow tracks are
    multiplied by config.expression_scale; then config.emotion's preset is added under them at
    config.emotion_intensity (`vasa3d.motion.emotion`; its extra names, e.g. cheekSquintLeft, follow
    MOTION_BLENDSHAPES in ARKit order); everything is clipped to [0, 1]."""
    from vasa3d.arkit import ARKIT_BLENDSHAPES
    from vasa3d.motion.emotion import emotion_tracks

    n = len(rot)
    scaled = {}
    for name in MOTION_BLENDSHAPES:
        if name in tracks:
            scale = config.expression_scale if name.startswith(_MOUTH_PREFIXES + ("brow",)) else 1.0
            scaled[name] = np.clip(np.asarray(tracks[name], np.float32) * scale, 0.0, 1.0)
    scaled = emotion_tracks(config.emotion, config.emotion_intensity, scaled, n)
    names = MOTION_BLENDSHAPES + tuple(k for k in ARKIT_BLENDSHAPES if k in scaled and k not in MOTION_BLENDSHAPES)
    coeffs = np.zeros((n, len(names)), np.float32)
    for k, name in enumerate(names):
        if name in scaled:
            coeffs[:, k] = scaled[name]
    return MotionSequence(config.fps, names, coeffs, rot, trans, gaze)


__all__ = ["motion_from_audio", "find_phones", "assemble"]
