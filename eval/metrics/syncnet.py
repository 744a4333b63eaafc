"""lse_c and lse_d: SyncNet's lip-sync error, confidence (LSE-C) and distance (LSE-D).

Definition (Prajwal et al. 2020, "A lip sync expert is all you need for speech to lip generation in the wild",
after Chung & Zisserman 2016): the mean over the video of SyncNet's confidence (median - min embedding distance over
shifts of -15..15 frames) and of its minimum distance, with SyncNet's pretrained weights (syncnet_v2.model).
No package ships those weights, and this suite does not implement the SyncNet network: both metrics are null,
with the reason "SyncNet weights not supplied" (`python -m eval run` offers no weights option) or "not implemented"
(weights given through the Python API).
The weight-free `av_offset_frames` / `av_confidence` (`eval.metrics.av_sync`) apply SyncNet's definitions to the
mouth opening and the audio envelope instead.
"""

from __future__ import annotations

from pathlib import Path

from eval.metrics import Score


def lse(weights: Path | None) -> tuple[Score, Score]:
    """(lse_c, lse_d): always null, with the reason (see the module docstring)."""
    if weights is None:
        reason = "SyncNet weights not supplied"
    else:
        reason = "not implemented (the SyncNet network is not part of this suite)"
    return Score.null(reason), Score.null(reason)
