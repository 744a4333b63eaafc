"""The 52 ARKit blendshape names (Apple ARFaceAnchor.BlendShapeLocation), the vocabulary shared by the
motion model (which emits coefficients) and the head rig (which deforms the mesh by them).

Source: Apple developer documentation, ARFaceAnchor.BlendShapeLocation; the same order as the Live Link Face CSV.
"""

from __future__ import annotations

ARKIT_BLENDSHAPES: tuple[str, ...] = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight", "jawForward", "jawLeft", "jawRight", "jawOpen", "mouthClose",
    "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft", "mouthSmileRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)
"""All 52 ARKit names, in ARKit's order."""

MOTION_BLENDSHAPES: tuple[str, ...] = (
    "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthPressLeft",
    "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "eyeBlinkLeft", "eyeBlinkRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
)
"""The names the audio-driven motion model emits; the head rig supports at least these."""


def check_names(names: tuple[str, ...] | list[str], supported: tuple[str, ...] = ARKIT_BLENDSHAPES) -> None:
    """Raise ValueError naming every entry of `names` that is not in `supported` (never silently ignored)."""
    unknown = [n for n in names if n not in supported]
    if unknown:
        raise ValueError(f"unknown blendshape name(s) {unknown}; supported: {', '.join(supported)}")
