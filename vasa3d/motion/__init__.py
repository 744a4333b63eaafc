"""Audio -> motion: speech features, phones, visemes with coarticulation, prosodic head motion, blinks and gaze,
and the `MotionSequence` container with its npz/json and ARKit CSV I/O.

Nothing heavy is imported here (pocketsphinx and matplotlib load inside the functions that need them).
"""

from __future__ import annotations

from vasa3d.motion.model import find_phones, motion_from_audio
from vasa3d.motion.phones import Phone
from vasa3d.motion.plot import plot_motion
from vasa3d.motion.sequence import MotionSequence
from vasa3d.motion.visemes import lip_gap

__all__ = ["MotionSequence", "Phone", "find_phones", "lip_gap", "motion_from_audio", "plot_motion"]
