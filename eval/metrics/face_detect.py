"""face_detect_rate: the share of frames in which the evaluation's face tracker finds a face.

Definition: (number of frames with a MediaPipe Face Mesh detection) / (number of frames). Source: common practice
in talking-head evaluation (a generated face that a standard tracker loses is broken or off-model); tracker:
Kartynnik et al. 2019. Higher is better; 1.0 for any clean frontal face video.
"""

from __future__ import annotations

from eval.metrics import Score
from eval.tracking import Track


def face_detect_rate(track: Track) -> Score:
    """Share of tracked frames in [0, 1]; null for a video with no frames."""
    if track.num_frames == 0:
        return Score.null("video has no frames")
    return Score.of(track.found.mean())
