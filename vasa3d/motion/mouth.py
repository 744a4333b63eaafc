"""Mouth coefficients from audio: phone-driven (visemes with coarticulation, scaled by loudness and gated to
rest in silence) and the loudness-only fallback (jaw and lips follow a noise-gated loudness envelope with
attack/release smoothing; spectral shape adds a little funnel for dark sounds such as /u/, /o/ or stretch for
bright ones such as /i/, /s/).
"""

from __future__ import annotations

import numpy as np

from vasa3d.motion.features import HOP_S, AudioFeatures, attack_release, true_runs
from vasa3d.motion.visemes import ARTIC, coarticulate, frame_pool, to_arkit

JAW_MAX = 0.4
"""jawOpen at full loudness (ARKit units; 1 = the rig's widest open jaw)."""
ATTACK_S = 0.015
RELEASE_S = 0.05
SPEECH_PREROLL_S = 0.05
"""The mouth may start moving this long before audible speech (anticipatory opening; a silent stop closure before
an utterance's first release)."""
SPEECH_HANGOVER_S = 0.1
"""The mouth may keep moving this long after audible speech (a final release), then settles to rest."""
SPEECH_BRIDGE_S = 0.3
"""Quiet stretches shorter than this inside speech (stop closures, short breaks) keep the mouth moving."""
SPEECH_RAMP_S = 0.06
"""Raised-cosine ramp between moving and rest, centred on the edges of the speech mask."""


def speech_presence(features: AudioFeatures) -> np.ndarray:
    """[F] float64 in [0, 1]: where the mouth may move. 1 from SPEECH_PREROLL_S before to SPEECH_HANGOVER_S after
    any non-silent feature frame and across quiet gaps shorter than SPEECH_BRIDGE_S; exactly 0 in longer
    silences; SPEECH_RAMP_S raised-cosine ramps between.

    The short pre-roll and hangover make the lips settle soon after a phrase and stay still until just before the
    next (real speakers' lips are still in pauses; THEval's silent-lip stability).
    """
    from scipy.ndimage import binary_closing, uniform_filter1d

    voiced = features.openness > 0
    if not voiced.any():
        return np.zeros(len(voiced))
    before, after = int(round(SPEECH_PREROLL_S / HOP_S)), int(round(SPEECH_HANGOVER_S / HOP_S))
    bridge = int(round(SPEECH_BRIDGE_S / HOP_S))
    mask = binary_closing(np.pad(voiced, bridge), np.ones(bridge, bool))[bridge:-bridge]
    for start, stop in true_runs(mask):
        mask[max(0, start - before):min(len(mask), stop + after)] = True
    ramp = max(1, int(round(SPEECH_RAMP_S / HOP_S)))
    smooth = uniform_filter1d(mask.astype(np.float64), ramp, mode="nearest")
    return 0.5 - 0.5 * np.cos(np.pi * smooth)


def phone_mouth(segments: list[tuple[float, float, str]], features: AudioFeatures, times_s: np.ndarray,
                fps: float, lead_s: float) -> dict[str, np.ndarray]:
    """Mouth coefficients {ARKit name: [T] float32 in [0, 1]} at frame times times_s [T] from viseme segments
    [(start_s, end_s, class)] (see `vasa3d.motion.visemes.viseme_segments`).

    The articulatory trajectories of `phone_articulation`, pooled to frames read lead_s ahead of each frame time
    (the visual lead), mapped to ARKit names (`vasa3d.motion.visemes.to_arkit`).
    """
    artic = phone_articulation(segments, features)
    return to_arkit(frame_pool(features.times_s, artic, times_s + lead_s, fps))


def phone_articulation(segments: list[tuple[float, float, str]], features: AudioFeatures) -> np.ndarray:
    """Articulatory trajectories [F, len(ARTIC)] float64 on the feature grid `features.times_s` [F] (10 ms).

    Coarticulated viseme targets (`vasa3d.motion.visemes.coarticulate`), jaw and lip opening scaled by the 150 ms
    loudness envelope (gain 0.6-1.15), set to rest where there is no speech (`speech_presence`; lip_open, which
    is 1 at rest, is kept). The input of both the generic mouth (`phone_mouth`) and a person's own speech model
    (`vasa3d.motion.personal`).
    """
    from scipy.ndimage import gaussian_filter1d

    artic = coarticulate(segments, features.times_s)
    env = gaussian_filter1d(features.openness.astype(np.float64), 0.15 / HOP_S / 2.355)
    gain = np.clip(0.6 + 0.6 * env, 0.6, 1.15)
    for name in ("jaw", "upper_up", "lower_down"):
        artic[:, ARTIC.index(name)] *= gain
    presence = speech_presence(features)
    lip = ARTIC.index("lip_open")
    keep = artic[:, lip].copy()
    artic *= presence[:, None]
    artic[:, lip] = keep
    return artic


def mouth_envelope(features: AudioFeatures) -> np.ndarray:
    """[F] float32 smoothed openness in [0, 1] at the feature frames (0 exactly in silence)."""
    return attack_release(features.openness, HOP_S, ATTACK_S, RELEASE_S)


def loudness_mouth(features: AudioFeatures, times_s: np.ndarray, lead_s: float = 0.05) -> dict[str, np.ndarray]:
    """Mouth coefficients {ARKit name: [T] float32 in [0, 1]} at frame times times_s [T], from loudness.

    The envelope is read lead_s ahead of each frame time. In silence every returned track is exactly 0
    (lips relaxed and closed, jaw closed).
    """
    env = mouth_envelope(features)
    t = times_s + lead_s
    o = np.interp(t, features.times_s, env).astype(np.float64)
    c = np.interp(t, features.times_s, features.centroid_hz).astype(np.float64)
    dark = np.clip((1400.0 - c) / 900.0, 0, 1)
    bright = np.clip((c - 2200.0) / 2500.0, 0, 1)
    out = {
        "jawOpen": JAW_MAX * o,
        "mouthLowerDownLeft": 0.25 * o,
        "mouthLowerDownRight": 0.25 * o,
        "mouthUpperUpLeft": 0.1 * o,
        "mouthUpperUpRight": 0.1 * o,
        "mouthFunnel": 0.35 * o * dark,
        "mouthPucker": 0.2 * o * dark,
        "mouthStretchLeft": 0.25 * o * bright,
        "mouthStretchRight": 0.25 * o * bright,
    }
    return {k: np.clip(v, 0, 1).astype(np.float32) for k, v in out.items()}
