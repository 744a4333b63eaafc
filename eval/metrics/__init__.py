"""Metrics of the evaluation suite, one module each; this module holds the result type and the registry.

A metric returns a `Score`: a number, or None with the reason why it does not apply (never a made-up value).
A value may be +inf where the definition gives infinity (PSNR of identical frames, MSI of a landmark track with
zero acceleration variance); `eval.results` stores such values in JSON as null with the reason "infinite".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Direction = Literal["higher", "lower", "closer to ground truth"]


@dataclass(frozen=True)
class Score:
    """value: float (possibly inf) or None; reason: why value is None (or "infinite" notes), else None."""

    value: float | None
    reason: str | None = None

    @classmethod
    def null(cls, reason: str) -> "Score":
        """A metric that does not apply, with the reason."""
        return cls(None, reason)

    @classmethod
    def of(cls, value: float) -> "Score":
        """A number; NaN becomes null ("undefined (NaN)")."""
        value = float(value)
        if math.isnan(value):
            return cls(None, "undefined (NaN)")
        return cls(value, None)


@dataclass(frozen=True)
class MetricInfo:
    """name, better direction, group, unit, one-line definition (for reports and the README)."""

    name: str
    direction: Direction
    group: str
    unit: str
    summary: str


METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("face_detect_rate", "higher", "tracking", "share",
               "share of frames where the MediaPipe face tracker finds a face"),
    MetricInfo("closure_rate", "higher", "lip sync", "share",
               "share of aligned p/b/m phones during which the lips close (mouth_open < 0.015 within +-40 ms)"),
    MetricInfo("vowel_openness", "higher", "lip sync", "ratio",
               "mean mouth opening in open vowels / mean in p/b/m (denominator floored at 0.01)"),
    MetricInfo("av_offset_frames", "closer to ground truth", "lip sync", "frames",
               "SyncNet-style offset between the rates of change of mouth opening and speech level "
               "(0 = in sync; + = audio leads)"),
    MetricInfo("av_confidence", "higher", "lip sync", "1 - corr",
               "SyncNet-style confidence: median - min over shifts of (1 - correlation)"),
    MetricInfo("lse_c", "higher", "lip sync", "", "SyncNet LSE-C (needs user-supplied SyncNet weights)"),
    MetricInfo("lse_d", "lower", "lip sync", "", "SyncNet LSE-D (needs user-supplied SyncNet weights)"),
    MetricInfo("lpips", "lower", "image vs ground truth", "",
               "LPIPS v0.1 (AlexNet) on face crops vs the real video"),
    MetricInfo("psnr", "higher", "image vs ground truth", "dB", "PSNR on face crops vs the real video"),
    MetricInfo("ssim", "higher", "image vs ground truth", "",
               "SSIM (Wang et al. 2004) on face crops vs the real video"),
    MetricInfo("lmd", "lower", "image vs ground truth", "px",
               "lip-landmark distance (Chen et al. 2018) to the real video, in pixels of the 224-px face crop; "
               "landmarks from MediaPipe or face-alignment (see lmd_landmarks)"),
    MetricInfo("csim", "higher", "identity", "cosine",
               "mean SFace cosine similarity of every 10th frame to the portrait"),
    MetricInfo("csim_yaw30", "higher", "identity", "cosine",
               "mean SFace cosine similarity to the portrait of renders turned 30 degrees"),
    MetricInfo("wobble", "lower", "temporal", "IOD^2/frame^4",
               "mean squared 2nd difference of pose-compensated rigid landmarks / interocular distance^2"),
    MetricInfo("msi", "higher", "temporal", "frame^4/IOD^2",
               "motion stability index: 1 / variance of landmark acceleration (in interocular distances)"),
    MetricInfo("head_motion_dynamics", "closer to ground truth", "temporal", "deg/s",
               "standard deviation of the head's rotation speed from the tracker"),
    MetricInfo("silence_lip_motion", "lower", "temporal", "face heights/s",
               "mean absolute rate of change of mouth_open during silences of 0.5 s or more"),
    MetricInfo("lip_dynamics", "closer to ground truth", "naturalness", "face heights/s",
               "standard deviation of the mouth opening's rate of change outside silences"),
    MetricInfo("eyebrow_dynamics", "closer to ground truth", "naturalness", "face heights/s",
               "standard deviation of the brow height's rate of change"),
    MetricInfo("mouth_sharpness", "closer to ground truth", "naturalness", "",
               "variance of the Laplacian of the grey mouth region (64 x 32 px)"),
    MetricInfo("naturalness", "higher", "naturalness", "0-1",
               "THEval-style: mean of exp(-|ln(method / real)|) over lip, eyebrow, head dynamics, silent-lip "
               "motion and mouth sharpness (1 = like the real video)"),
    MetricInfo("render_fps", "higher", "speed", "frames/s", "frames rendered (and encoded) per second"),
    MetricInfo("real_time_factor", "lower", "speed", "s/s", "total processing seconds / audio seconds"),
    MetricInfo("avatar_build_s", "lower", "speed", "s", "seconds to build the avatar from the photo"),
)
"""Every metric in report order."""

METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)


def info(name: str) -> MetricInfo:
    """The `MetricInfo` of `name`; KeyError if unknown."""
    for m in METRICS:
        if m.name == name:
            return m
    raise KeyError(name)
