"""Writing mp4 video (H.264 yuv420p + AAC), streamed frame by frame and published atomically.

Backends: PyAV's bundled FFmpeg (libx264 + aac; the PyPI wheels ship libx264) and, only if that lacks
libx264, the `ffmpeg` binary of imageio-ffmpeg fed through a pipe. Frames are converted RGB -> YUV with the
BT.709 matrix, limited range, and the stream is tagged BT.709 so players and browsers show the same colours.

Duration: the audio is written whole, never truncated or padded; the container lasts max(video, audio).
Callers should render ceil(audio_seconds * fps) frames so that both end together (within one frame).
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import subprocess
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np

from vasa3d.errors import InputError
from vasa3d.io.atomic import temp_path_for

Backend = Literal["auto", "pyav", "ffmpeg"]
MAX_FPS = 240.0
AUDIO_BITRATE = 128_000
_BT709 = 1  # AVCOL_PRI_BT709 = AVCOL_TRC_BT709 = AVCOL_SPC_BT709 = 1
_LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float,
                audio: np.ndarray | None = None, audio_sr: int = 16000, *, crf: int = 18,
                preset: str = "medium", backend: Backend = "auto", fragmented: bool = False) -> Path:
    """Encode frames (and optional audio) to an mp4 with H.264 video and AAC audio, atomically.

    Args:
        path: target .mp4; its directory must exist. Written to a temporary file beside it, then renamed.
        frames: iterable (a generator is fine: frames are encoded as they arrive, never all held) of uint8
            RGB [H, W, 3] (float in [0, 1] is accepted and rounded); H and W even and the same for all frames.
        fps: frames per second (> 0, <= 240), kept as an exact fraction with denominator <= 1001
            (29.97 -> 2997/100; pass `Fraction(30000, 1001)` for NTSC).
        audio: optional float mono [S] in [-1, 1] at `audio_sr` Hz, muxed as AAC (128 kb/s), written whole.
        audio_sr: audio sample rate in Hz.
        crf: x264 constant rate factor (0 lossless .. 51 worst; 18 is visually lossless).
        preset: x264 speed preset ("ultrafast" .. "veryslow").
        backend: "pyav", "ffmpeg" (imageio-ffmpeg binary) or "auto" (PyAV when it has libx264).
        fragmented: write a fragmented MP4 (a keyframe and a fragment every second) to `partial_path(path)`,
            which a player can open and play while it grows; it is renamed to `path` when complete.
    Returns:
        the target path.
    Raises:
        InputError: odd frame size, a frame of another size/shape, no frames.
        ValueError: bad fps or audio shape.
        Whatever `frames` raises propagates; in every failure case no file is left at `path` (an older file
        there is kept) and the temporary file is removed.
    """
    writer = VideoWriter(path, fps, audio, audio_sr, crf=crf, preset=preset, backend=backend, fragmented=fragmented)
    with writer:
        for frame in frames:
            writer.write(frame)
    return Path(path)


class VideoWriter:
    """Context manager that streams frames into an mp4, published atomically on a clean exit.

    Usage::

        with VideoWriter("out.mp4", fps=25, audio=wave, audio_sr=16000) as writer:
            for frame in frames:          # uint8 [H, W, 3]
                writer.write(frame)
        # out.mp4 now exists; on an exception inside the block it does not, and no temp file remains

    Arguments are those of `write_video`. The encoder opens at the first frame (its size fixes the video size).
    While writing, the file grows at a temporary path beside `path` (`partial_path(path)` when fragmented).
    `close()` finishes and renames (called by `__exit__` on success); `abort()` discards (on failure).
    """

    def __init__(self, path: str | os.PathLike, fps: float, audio: np.ndarray | None = None,
                 audio_sr: int = 16000, *, crf: int = 18, preset: str = "medium", backend: Backend = "auto",
                 fragmented: bool = False):
        self.path, self.fps, self.audio, self.audio_sr = _checked_target(path, fps, audio, audio_sr)
        self.crf, self.preset = int(crf), preset
        self.backend = _choose_backend(backend)
        self.fragmented = bool(fragmented)
        self.n_frames = 0
        self._tmp = partial_path(self.path) if self.fragmented else temp_path_for(self.path)
        self._encoder: _PyAVEncoder | _FFmpegPipeEncoder | None = None
        self._size: tuple[int, int] | None = None
        self._done = False

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frame: np.ndarray) -> None:
        """Encode one frame: uint8 RGB [H, W, 3] (or float in [0, 1]). Raises InputError on a bad shape/size."""
        if self._done:
            raise RuntimeError("VideoWriter is closed")
        rgb = _as_rgb_u8(frame)
        if self._encoder is None:
            self._open(rgb.shape[1], rgb.shape[0])
        elif rgb.shape[:2] != self._size:
            raise InputError(f"frame {self.n_frames} is {rgb.shape[1]}x{rgb.shape[0]} but the video is "
                             f"{self._size[1]}x{self._size[0]}; all frames must have the same size")
        self._encoder.write(rgb)
        self.n_frames += 1

    def close(self) -> Path:
        """Flush the encoders, write all remaining audio, and rename the file into place. Returns the path."""
        if self._done:
            return self.path
        try:
            if self._encoder is None:
                raise InputError("no frames were given to write_video; render at least one frame")
            self._encoder.finish()
            os.replace(self._tmp, self.path)
            self._done = True
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Stop encoding and delete the temporary file; the target path is left untouched."""
        self._done = True
        if self._encoder is not None:
            self._encoder.abort()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()

    def __del__(self) -> None:
        if not getattr(self, "_done", True):
            with contextlib.suppress(Exception):
                self.abort()

    def _open(self, width: int, height: int) -> None:
        if width % 2 or height % 2:
            raise InputError(f"frame size {width}x{height} must be even for H.264 (yuv420p); "
                             "choose an even --size or crop one pixel")
        self._size = (height, width)
        cls = _PyAVEncoder if self.backend == "pyav" else _FFmpegPipeEncoder
        self._encoder = cls(self._tmp, width, height, self.fps, self.audio, self.audio_sr, self.crf, self.preset,
                            self.fragmented)


def _checked_target(path, fps, audio, audio_sr) -> tuple[Path, Fraction, np.ndarray | None, int]:
    """The writers' common arguments, checked: (target path, fps as an exact fraction with denominator <= 1001,
    audio as clipped float32 mono or None, sample rate). Raises ValueError for a bad fps or audio shape,
    FileNotFoundError when the target's directory does not exist."""
    if not (isinstance(fps, numbers.Real) and math.isfinite(fps) and 0 < fps <= MAX_FPS):
        raise ValueError(f"fps must be a number in (0, {MAX_FPS:g}], got {fps!r}")
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write '{path}': directory '{path.parent}' does not exist")
    fps = (fps if isinstance(fps, Fraction) else Fraction(float(fps))).limit_denominator(1001)
    return path, fps, None if audio is None else _check_audio(audio, audio_sr), int(audio_sr)


def partial_path(path: str | os.PathLike) -> Path:
    """Where a fragmented video grows while it is written: ``out.mp4`` -> ``out.partial.mp4`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}.partial{path.suffix}")


def _movflags(fragmented: bool) -> str:
    """mp4 muxer flags: the index first (progressive download), or fragments a player can read as they come."""
    return "+frag_keyframe+empty_moov+default_base_moof" if fragmented else "+faststart"


def pyav_has_libx264() -> bool:
    """True when PyAV's bundled FFmpeg has the libx264 and aac encoders."""
    import av

    return {"libx264", "aac"} <= set(av.codecs_available)


def _choose_backend(backend: Backend) -> str:
    if backend == "auto":
        return "pyav" if pyav_has_libx264() else "ffmpeg"
    if backend not in ("pyav", "ffmpeg"):
        raise ValueError(f"backend must be 'auto', 'pyav' or 'ffmpeg', got {backend!r}")
    return backend


def _check_audio(audio: np.ndarray, sr: int) -> np.ndarray:
    wave = np.asarray(audio, dtype=np.float32)
    if wave.ndim == 2 and wave.shape[1] == 1:
        wave = wave[:, 0]
    if wave.ndim != 1 or sr <= 0:
        raise ValueError(f"audio must be mono [S] with audio_sr > 0, got shape {wave.shape}, sr {sr}")
    return np.clip(np.nan_to_num(wave), -1.0, 1.0)


def _as_rgb_u8(frame: np.ndarray) -> np.ndarray:
    arr = np.asarray(frame)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"video frames must be RGB [H, W, 3], got shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(arr.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


class _PyAVEncoder:
    """libx264 + aac through PyAV; audio is interleaved with the video, frame by frame."""

    def __init__(self, tmp: Path, width: int, height: int, fps: Fraction, audio: np.ndarray | None,
                 audio_sr: int, crf: int, preset: str, fragmented: bool = False):
        import av

        options = {"movflags": _movflags(fragmented)}
        if fragmented:  # each finished fragment goes to disk at once, not when the I/O buffer fills
            options["flush_packets"] = "1"
        self.container = av.open(str(tmp), mode="w", format="mp4", options=options)
        try:
            self.video = self.container.add_stream("libx264", rate=fps)
            self.video.width, self.video.height, self.video.pix_fmt = width, height, "yuv420p"
            self.video.options = {"crf": str(crf), "preset": preset}
            if fragmented:  # a keyframe, hence a fragment, every second
                self.video.options |= {"g": str(max(1, round(fps))), "keyint_min": str(max(1, round(fps)))}
            ctx = self.video.codec_context
            ctx.colorspace = ctx.color_primaries = ctx.color_trc = _BT709
            ctx.color_range = _LIMITED_RANGE
            self.audio_stream = None
            if audio is not None:
                self.audio_stream = self.container.add_stream("aac", rate=audio_sr, layout="mono")
                self.audio_stream.bit_rate = AUDIO_BITRATE
        except BaseException:
            self.container.close()
            raise
        self.audio, self.audio_sr, self.fps = audio, audio_sr, fps
        self.n_frames = 0
        self.audio_pos = 0

    def write(self, rgb: np.ndarray) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame = frame.reformat(format="yuv420p", dst_colorspace="ITU709", dst_color_range="MPEG")
        frame.colorspace, frame.color_range = _BT709, _LIMITED_RANGE
        frame.pts = self.n_frames
        self.container.mux(self.video.encode(frame))
        self.n_frames += 1
        if self.audio is not None:  # interleave: audio up to the end of this frame
            self._write_audio_until(round(self.n_frames * self.audio_sr / self.fps))

    def finish(self) -> None:
        self.container.mux(self.video.encode(None))
        if self.audio_stream is not None:
            self._write_audio_until(self.audio.size)
            self.container.mux(self.audio_stream.encode(None))
        self.container.close()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.container.close()

    def _write_audio_until(self, end: int) -> None:
        import av

        end = min(int(end), self.audio.size)
        if end <= self.audio_pos:
            return
        chunk = self.audio[None, self.audio_pos:end]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = self.audio_sr, self.audio_pos
        self.container.mux(self.audio_stream.encode(frame))
        self.audio_pos = end


class _FFmpegPipeEncoder:
    """Fallback: raw RGB frames piped into imageio-ffmpeg's ffmpeg binary; audio from a temporary wav."""

    def __init__(self, tmp: Path, width: int, height: int, fps: Fraction, audio: np.ndarray | None,
                 audio_sr: int, crf: int, preset: str, fragmented: bool = False):
        import imageio_ffmpeg

        from vasa3d.io.audio import write_wav

        self.wav = None
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo",
               "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-framerate", f"{fps.numerator}/{fps.denominator}",
               "-i", "pipe:0"]
        if audio is not None:
            self.wav = temp_path_for(tmp.with_suffix(".wav"))
            write_wav(self.wav, audio, audio_sr)
            cmd += ["-i", str(self.wav), "-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", str(AUDIO_BITRATE)]
        cmd += ["-c:v", "libx264", "-crf", str(crf), "-preset", preset, "-pix_fmt", "yuv420p",
                "-vf", "scale=out_color_matrix=bt709:out_range=tv", "-colorspace", "bt709",
                "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
                "-movflags", _movflags(fragmented), "-flush_packets", "1", "-f", "mp4", str(tmp)]
        if fragmented:
            gop = str(max(1, round(fps)))
            cmd[-5:-5] = ["-g", gop, "-keyint_min", gop]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def write(self, rgb: np.ndarray) -> None:
        try:
            self.proc.stdin.write(rgb.tobytes())
        except BrokenPipeError as err:
            raise RuntimeError(f"ffmpeg stopped: {self.proc.stderr.read().decode(errors='replace')}") from err

    def finish(self) -> None:
        self.proc.stdin.close()
        stderr = self.proc.stderr.read().decode(errors="replace")
        code = self.proc.wait()
        self._remove_wav()
        if code != 0:
            raise RuntimeError(f"ffmpeg failed with exit code {code}: {stderr.strip()}")

    def abort(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        self.proc.wait()
        self.proc.stderr.close()
        self._remove_wav()

    def _remove_wav(self) -> None:
        if self.wav is not None:
            with contextlib.suppress(FileNotFoundError):
                self.wav.unlink()


class SegmentedVideoWriter:
    """Streams frames into short, self-contained mp4 segments (H.264 + AAC, each about `segment_s` long, each
    starting with a keyframe), then joins them into one mp4 at `path` without re-encoding the video.

    For players that take a video piece by piece (the web demo's streaming output): each segment is handed to
    `on_segment(path)` as soon as it is closed. Usage and failure rules are `VideoWriter`'s: the joined file
    appears atomically at `path` on a clean exit; on an exception neither it nor a temporary file remains (the
    segments themselves live in `segment_dir`, which the caller owns and removes).

    Args:
        path: the joined .mp4. fps, audio, audio_sr, crf, preset: as `write_video` (each segment carries its slice
            of the audio; the joined file carries the whole audio, encoded once).
        segment_dir: an existing directory for the segment files (segment-00000.mp4, ...).
        segment_s: segment length in seconds (a whole number of frames, at least one).
        first_segment_s: length of the first segment (default `segment_s`); a shorter one lets a player start
            sooner.
        on_segment: called with each finished segment's path, in order.
    """

    def __init__(self, path: str | os.PathLike, fps: float, audio: np.ndarray | None = None, audio_sr: int = 16000,
                 *, segment_dir: str | os.PathLike, segment_s: float = 1.0, first_segment_s: float | None = None,
                 on_segment=None, crf: int = 18, preset: str = "veryfast"):
        self.path, self.fps, self.audio, self.audio_sr = _checked_target(path, fps, audio, audio_sr)
        self.segment_dir = Path(segment_dir)
        if not self.segment_dir.is_dir():
            raise FileNotFoundError(f"segment directory '{self.segment_dir}' does not exist")
        self.per_segment = max(1, round(float(segment_s) * float(self.fps)))
        self.first_segment = self.per_segment if first_segment_s is None else \
            max(1, round(float(first_segment_s) * float(self.fps)))
        self.on_segment = on_segment
        self.crf, self.preset = int(crf), preset
        self.segments: list[Path] = []
        self.n_frames = 0
        self._current: VideoWriter | None = None
        self._done = False

    def __enter__(self) -> SegmentedVideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frame: np.ndarray) -> None:
        """Add one frame (uint8 RGB [H, W, 3]); closes and hands over a segment when it is full."""
        if self._done:
            raise RuntimeError("SegmentedVideoWriter is closed")
        if self._current is None:
            self._current = self._open_segment(self.n_frames)
        self._current.write(frame)
        self.n_frames += 1
        if self._current.n_frames == self._segment_length(len(self.segments)):
            self._finish_segment()

    def close(self) -> Path:
        """Close the last segment and join all of them with the whole audio into `path` (atomically)."""
        if self._done:
            return self.path
        try:
            if self._current is not None:
                self._finish_segment()
            if not self.segments:
                raise InputError("no frames were given to the video writer; render at least one frame")
            self._join()
            self._done = True
        except BaseException:
            self.abort()
            raise
        return self.path

    def abort(self) -> None:
        """Stop; the joined file is not written (segments already handed over stay in `segment_dir`)."""
        self._done = True
        if self._current is not None:
            self._current.abort()
            self._current = None

    def _segment_length(self, index: int) -> int:
        """Frames in segment `index`."""
        return self.first_segment if index == 0 else self.per_segment

    def _open_segment(self, first: int) -> VideoWriter:
        seg = self.segment_dir / f"segment-{len(self.segments):05d}.mp4"
        audio = None
        if self.audio is not None:  # this segment's share of the audio (the joined file gets all of it)
            lo = round(first * self.audio_sr / self.fps)
            end = first + self._segment_length(len(self.segments))
            audio = self.audio[lo:round(end * self.audio_sr / self.fps)]
            if audio.size == 0:  # video longer than the audio: a silent segment still has an audio track
                audio = np.zeros(1, np.float32)
        return VideoWriter(seg, self.fps, audio, self.audio_sr, crf=self.crf, preset=self.preset, backend="auto")

    def _finish_segment(self) -> None:
        writer, self._current = self._current, None
        writer.close()
        self.segments.append(writer.path)
        if self.on_segment is not None:
            self.on_segment(writer.path)

    def _join(self) -> None:
        """Concatenate the segments' video (stream copy) and encode the whole audio once, into `path`."""
        import imageio_ffmpeg

        from vasa3d.io.audio import write_wav
        from vasa3d.io.atomic import atomic_path

        listing = self.segment_dir / "segments.txt"
        listing.write_text("".join(f"file '{p.resolve()}'\n" for p in self.segments), encoding="utf-8")
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "concat", "-safe", "0",
               "-i", str(listing)]
        wav = None
        if self.audio is not None:
            wav = self.segment_dir / "audio.wav"
            write_wav(wav, self.audio, self.audio_sr)
            cmd += ["-i", str(wav), "-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", str(AUDIO_BITRATE)]
        else:
            cmd += ["-map", "0:v"]
        try:
            with atomic_path(self.path) as tmp:
                proc = subprocess.run(cmd + ["-c:v", "copy", "-movflags", "+faststart", "-f", "mp4", str(tmp)],
                                      capture_output=True, check=False)
                if proc.returncode != 0:
                    raise RuntimeError(f"joining the video segments failed: {proc.stderr.decode(errors='replace')}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                listing.unlink()
            if wav is not None:
                with contextlib.suppress(FileNotFoundError):
                    wav.unlink()
