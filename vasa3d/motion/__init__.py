"""Audio -> motion: speech features, phones, visemes with coarticulation, prosodic head motion, blinks and gaze,
and the `MotionSequence` container with its npz/json and ARKit CSV I/O.

Nothing heavy is imported here (pocketsphinx and matplotlib load inside the functions that need them).
"""

from __future__ import annotations

from vasa3d.motion.model import motion_from_audio
from vasa3d.motion.sequence import MotionSequence

__all__ = ["MotionSequence", "motion_from_audio"]
