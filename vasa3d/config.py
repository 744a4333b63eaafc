"""Frozen configuration dataclasses: the single source of truth for every default.

The CLI, the web app and the library all read these; a request carries its own options (`TalkRequest`) and
never mutates a shared config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Backend = Literal["auto", "numba", "gsplat", "torch"]
Device = str   # "auto" (CUDA when PyTorch sees a GPU, else the CPU), "cpu", "cuda", "cuda:N"
CameraPathKind = Literal["fixed", "orbit", "sway"]


@dataclass(frozen=True)
class FaceConfig:
    """Face analysis of one portrait (MediaPipe 0.10.21 legacy solutions)."""

    work_size: int = 512            # side of the square head crop, pixels
    crop_scale: float = 2.4         # crop side / face-box side
    crop_shift_up: float = 0.12     # crop centre moved up by this share of the crop side (room for hair)
    min_face_px: int = 40           # a face whose box side is smaller than this (in the input) is rejected
    min_detection_confidence: float = 0.5
    fov_deg: float = 22.0           # assumed horizontal field of view of the crop's pinhole camera
    interpupillary_m: float = 0.063  # mean adult IPD; fixes the metric scale of the face


@dataclass(frozen=True)
class AvatarConfig:
    """Gaussians built from the photo and bound to the head model."""

    face_stride: int = 1            # pixel stride for Gaussians on the face mesh
    body_stride: int = 2            # pixel stride for hair, neck and torso
    back_of_head_points: int = 6000  # Gaussians completing the unseen back of the head
    normal_thickness: float = 0.25  # scale along the surface normal / in-plane scale


@dataclass(frozen=True)
class MotionConfig:
    """Audio -> MotionSequence."""

    fps: float = 25.0
    expression_scale: float = 1.0
    head_motion_scale: float = 1.0
    seed: int = 0
    # lip_sync: "auto" = given phones, else transcript alignment, else phone recognition; "acoustic" = pseudo-phones
    # from energy and spectrum (any language); "loudness" = the loudness envelope only
    lip_sync: Literal["auto", "acoustic", "loudness"] = "auto"
    visual_lead_s: float = 0.05      # mouth shapes lead the audio by this much, seconds
    # language: espeak-ng voice code of the speech ("fr", "es", "cmn", ...); "" = English or unknown. A transcript
    # in a language other than English is aligned by espeak synthesis + DTW (vasa3d.motion.dtw_align)
    language: str = ""
    emotion: Literal["neutral", "happy", "sad", "angry", "surprised"] = "neutral"   # preset under the speech
    emotion_intensity: float = 1.0   # 0-2: strength of the emotion preset (vasa3d.motion.emotion)
    head_motion: Literal["still", "natural", "lively"] = "natural"  # multiplies head_motion_scale by 0, 1, 1.7
    personal_speech: bool = True     # an avatar fitted to a video speaks with the person's own mouth model (its
                                     # `speech_model`, vasa3d.motion.personal); False: the generic viseme mouth


@dataclass(frozen=True)
class RenderConfig:
    """Rendering of frames and the video."""

    size: int = 512
    fps: float = 25.0
    backend: Backend = "auto"       # "auto": gsplat on a CUDA device, numba on the CPU
    device: Device = "auto"         # where posing and rasterizing run
    camera_path: CameraPathKind = "fixed"
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    encoder_preset: str = "veryfast"  # x264 speed preset: at crf 18 "veryfast" looks the same as "medium" on
                                      # talking heads and encodes ~1.5x faster (vasa3d bench pipeline)
    crf: int = 18                     # x264 constant rate factor (18: visually lossless)


@dataclass(frozen=True)
class FitConfig:
    """Fitting an avatar to a person's frames (`vasa3d fit`; `vasa3d.avatar.fit.fit_avatar`)."""

    steps: int = 600                # Adam steps, one frame each
    max_frames: int = 300           # frames used (spread evenly over the input); all are tracked
    render_size: int | None = None  # side of the crops the photometric loss compares, pixels; None: the frames' own
                                    # resolution (`side_for`), the one `reenact` renders them at
    backend: Backend = "auto"       # rasterizer (numba on the CPU, gsplat on CUDA)
    lr_color: float = 0.01
    lr_color_photos: float = 0.003  # instead of lr_color when fitting a few photos: each colour then has a handful of
                                    # mutually misaligned views, and the faster rate baked their misfit into streaks
                                    # (3 GRID frames, held-out mouth box: 27.42 dB at 0.01, 28.03 dB at 0.003)
    lr_opacity: float = 0.01        # on opacity logits
    lr_scale: float = 0.002         # on log scales
    lr_offset: float = 0.0005       # on face-bound offsets, units of the triangle scale
    lr_frame: float = 0.0           # on per-frame corrections of the head pose (rad, m) and coefficients; off by
                                    # default: Adam moves every frame's row by its momentum at every step, and
                                    # over hundreds of steps those drifts blurred the fit
    ssim_weight: float = 0.2        # loss = (1 - w) L1 + w (1 - SSIM)
    offset_weight: float = 0.1      # L2 penalty on the offsets (units of k, squared)
    scale_weight: float = 0.1       # L2 penalty on the log-scale changes (keeps Gaussians from swelling into blur)
    frame_weight: float = 0.01      # L2 penalty on the per-frame corrections
    seed: int = 0

    MIN_SIDE = 256                  # px: the range of the automatic render size (below, a small face is upsampled;
    MAX_SIDE = 512                  # above, a large one is downsampled: the fit's time grows with the pixels)

    def side_for(self, source_px: float) -> int:
        """The crops' side in pixels for frames whose face crop is `source_px` pixels wide in the source:
        `render_size` when set, else `source_px` (the fit compares at the frames' own resolution, which is also the
        resolution `reenact` renders at) within [MIN_SIDE, MAX_SIDE]."""
        if self.render_size is not None:
            return int(self.render_size)
        return int(min(max(round(source_px), self.MIN_SIDE), self.MAX_SIDE))


@dataclass(frozen=True)
class PipelineConfig:
    """Everything the talking-head pipeline needs; see `vasa3d.pipeline.TalkingHeadPipeline`."""

    face: FaceConfig = field(default_factory=FaceConfig)
    avatar: AvatarConfig = field(default_factory=AvatarConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    render: RenderConfig = field(default_factory=RenderConfig)
    fit: FitConfig = field(default_factory=FitConfig)
