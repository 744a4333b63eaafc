"""Emotion presets blended under speech, and the head-motion styles.

An emotion is a constant ARKit expression (the rig's blendshapes, `vasa3d.head.rig`) added under the speech's
mouth and brow motion, scaled by an intensity. The presets follow the Facial Action Coding System prototypes of
the basic emotions (Ekman & Friesen 1978; EMFACS), written in ARKit names: happy = AU6 cheek raiser + AU12 lip
corner puller (cheekSquint, eyeSquint, mouthSmile, mouthDimple); sad = AU1 inner brow raiser + AU4 brow lowerer +
AU15 lip corner depressor (browInnerUp, browDown, mouthFrown, mouthShrugLower); angry = AU4 + AU5/7 lid
tightener + AU9 nose wrinkler + AU23/24 lip press (browDown, eyeSquint, noseSneer, mouthPress, mouthFrown);
surprised = AU1 + AU2 outer brow raiser + AU5 upper lid raiser (browInnerUp, browOuterUp, eyeWide).
Rounded lips (pucker, funnel) damp the smile and stretch that would fight them.
"""

from __future__ import annotations

import numpy as np

EMOTIONS: dict[str, dict[str, float]] = {
    "neutral": {},
    "happy": {"mouthSmile": 0.55, "cheekSquint": 0.45, "eyeSquint": 0.2, "mouthDimple": 0.2, "browOuterUp": 0.1},
    "sad": {"browInnerUp": 0.65, "browDown": 0.15, "mouthFrown": 0.55, "mouthShrugLower": 0.25, "eyeSquint": 0.1},
    "angry": {"browDown": 0.75, "eyeSquint": 0.35, "noseSneer": 0.35, "mouthPress": 0.25, "mouthFrown": 0.25},
    "surprised": {"browInnerUp": 0.7, "browOuterUp": 0.7, "eyeWide": 0.6},
}
"""Preset (intensity 1) per emotion: ARKit names without Left/Right are applied to both sides."""

_UNSIDED = ("browInnerUp", "cheekPuff", "mouthShrugLower", "mouthShrugUpper", "mouthRollLower", "mouthRollUpper")

HEAD_MOTION_GAIN: dict[str, float] = {"still": 0.0, "natural": 1.0, "lively": 1.7}
"""Multiplier of MotionConfig.head_motion_scale per head-motion style ("still": the photo's head pose)."""


def emotion_tracks(emotion: str, intensity: float, tracks: dict[str, np.ndarray], num_frames: int
                   ) -> dict[str, np.ndarray]:
    """`tracks` ({ARKit name: [T] float}) with the emotion's preset times `intensity` added under them (a copy).

    Names the preset adds that are not in `tracks` become new constant tracks. Smile, dimple and stretch are
    multiplied by (1 - 0.7 max(pucker, funnel)) so rounded vowels stay round. Values are clipped to [0, 1].
    Raises ValueError for an unknown emotion or a negative intensity.
    """
    if emotion not in EMOTIONS:
        raise ValueError(f"emotion must be one of {', '.join(EMOTIONS)}, got {emotion!r}")
    if not intensity >= 0:
        raise ValueError(f"emotion intensity must be >= 0, got {intensity}")
    out = {k: np.asarray(v, np.float32).copy() for k, v in tracks.items()}
    if not EMOTIONS[emotion] or intensity == 0:
        return out
    zeros = np.zeros(num_frames, np.float32)
    rounded = np.maximum(out.get("mouthPucker", zeros), out.get("mouthFunnel", zeros))
    for base, value in EMOTIONS[emotion].items():
        names = [base] if base in _UNSIDED else [base + "Left", base + "Right"]
        for name in names:
            add = np.full(num_frames, value * intensity, np.float32)
            if base in ("mouthSmile", "mouthDimple", "mouthStretch"):
                add *= 1.0 - 0.7 * rounded
            out[name] = np.clip(out.get(name, zeros) + add, 0.0, 1.0).astype(np.float32)
    return out
