"""Input and output at the edges of vasa3d: images, audio, video files, and offline text-to-speech.

Images come back as float32 RGB [H, W, 3] in [0, 1]; audio as float32 mono [S] in [-1, 1] at a chosen rate;
video is written as mp4 (H.264 yuv420p + AAC), streamed and atomically published. User-caused problems
(missing/unreadable files, empty or over-long audio, tiny images) raise `vasa3d.errors.InputError`.

Importing this package loads numpy only; Pillow, PyAV, SciPy and espeak-ng load on first use.
"""

from __future__ import annotations

from vasa3d.io.atomic import atomic_path, atomic_write
from vasa3d.io.audio import MAX_AUDIO_SECONDS, read_audio, resample, write_wav
from vasa3d.io.image import MAX_IMAGE_PIXELS, MIN_IMAGE_SIDE_PX, read_image, read_image_u8, write_image
from vasa3d.io.media import AudioInfo, MediaInfo, VideoInfo, iter_video_frames, probe_media, read_video
from vasa3d.io.tts import (
    PhoneSegment,
    Speech,
    WordSegment,
    load_phones,
    load_words,
    sidecar_path,
    synthesize_speech,
)
from vasa3d.io.video import VideoWriter, pyav_has_libx264, write_video

__all__ = [
    "MAX_AUDIO_SECONDS",
    "MAX_IMAGE_PIXELS",
    "MIN_IMAGE_SIDE_PX",
    "AudioInfo",
    "MediaInfo",
    "PhoneSegment",
    "Speech",
    "VideoInfo",
    "VideoWriter",
    "WordSegment",
    "atomic_path",
    "atomic_write",
    "iter_video_frames",
    "load_phones",
    "load_words",
    "probe_media",
    "pyav_has_libx264",
    "read_audio",
    "read_image",
    "read_image_u8",
    "read_video",
    "resample",
    "sidecar_path",
    "synthesize_speech",
    "write_image",
    "write_video",
    "write_wav",
]
