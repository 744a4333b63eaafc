"""Reading and writing audio: any container/codec or an in-memory (wave, rate) pair -> float32 mono at one rate.

Decoding is PyAV (FFmpeg): wav, mp3, m4a/aac, flac, ogg/vorbis, opus, webm, and the audio track of a video.
Channels are averaged to mono. Resampling is `scipy.signal.resample_poly` with the exact rational ratio
(e.g. 44100 -> 16000 is up 160 / down 441) and its default Kaiser-windowed (beta 5) low-pass FIR: band-limited,
no drift (output length = ceil(n * sr / rate)), zero-phase (no delay), deterministic. FFmpeg's swresample was
the other option; resample_poly was chosen because its filter and output length are documented and identical
for the file and the in-memory path.
"""

from __future__ import annotations

import math
import os
import wave as wave_module
from pathlib import Path
from typing import Union

import numpy as np

from vasa3d.errors import InputError
from vasa3d.io.atomic import atomic_path

MAX_AUDIO_SECONDS = 600.0
MIN_AUDIO_SECONDS = 0.1   # shorter than this is not speech (2-3 video frames); usually a damaged file
DEFAULT_SAMPLE_RATE = 16000
_MAX_CHANNELS_FIRST = 16  # a 2-D array [C, S] is recognised as channels-first only when C <= this < S

AudioSource = Union[str, os.PathLike, tuple]


def read_audio(source: AudioSource, sr: int = DEFAULT_SAMPLE_RATE) -> np.ndarray:
    """Read speech as float32 mono samples in [-1, 1] at `sr` Hz.

    Args:
        source: a file path (any format FFmpeg decodes; for a video, its first audio stream), or a pair
            ``(wave, rate)`` or ``(rate, wave)`` (Gradio's numpy audio is ``(rate, wave)``): `rate` an int in Hz,
            `wave` shaped [S], [S, C] or [C, S] (channels-first only when C <= 16 < S), dtype int16 (/32768),
            int32 (/2**31), uint8 ((x - 128) / 128) or float (taken as [-1, 1]).
        sr: output sample rate in Hz.
    Returns:
        float32 [S_out], S_out = ceil(S_in * sr / rate_in), values clipped to [-1, 1]. Silence is returned as is.
    Raises:
        InputError: missing file, a directory, no audio stream, undecodable data, 0 samples or under
            `MIN_AUDIO_SECONDS` (0.1 s), NaN/inf samples, or more than `MAX_AUDIO_SECONDS` (600 s) of audio.
        ValueError: `sr` not a positive integer.
    """
    if int(sr) != sr or sr <= 0:
        raise ValueError(f"sr must be a positive integer number of Hz, got {sr!r}")
    if isinstance(source, tuple):
        mono, rate = _mono_from_pair(source)
        name = "audio"
    elif isinstance(source, (str, os.PathLike)):
        mono, rate = _decode_file(Path(source))
        name = f"audio file '{source}'"
    else:
        raise InputError(f"cannot read audio from a {type(source).__name__}; give a file path or a "
                         "(wave, sample_rate) pair")
    if mono.size == 0:
        raise InputError(f"{name} is empty (0 samples); record or upload some speech")
    if mono.size < MIN_AUDIO_SECONDS * rate:
        raise InputError(f"{name} is too short ({1000 * mono.size / rate:.0f} ms of sound; at least "
                         f"{1000 * MIN_AUDIO_SECONDS:.0f} ms are needed); it may be damaged or cut off")
    _check_duration(mono.size / rate, name)
    return resample(mono, rate, int(sr))


def resample(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited rational resampling of a mono signal (`scipy.signal.resample_poly`, Kaiser beta 5).

    Args:
        wave: float [S]; rate_in, rate_out: Hz (positive integers).
    Returns:
        float32 [ceil(S * rate_out / rate_in)] clipped to [-1, 1] (the same array converted when rates match).
    """
    wave = np.asarray(wave, dtype=np.float32)
    if rate_in != rate_out:
        from scipy.signal import resample_poly

        g = math.gcd(int(rate_in), int(rate_out))
        wave = resample_poly(wave, int(rate_out) // g, int(rate_in) // g).astype(np.float32)
    return np.clip(wave, -1.0, 1.0)


def write_wav(path: str | os.PathLike, wave: np.ndarray, sr: int) -> Path:
    """Write a 16-bit PCM wav atomically (stdlib `wave`).

    Args:
        path: target file; its directory must exist.
        wave: float [S] or [S, C] in [-1, 1] (clipped; scaled by 32767 and rounded), or int16 as is.
        sr: sample rate in Hz.
    Returns:
        the target path.
    Raises:
        ValueError: wave not 1-D or 2-D, or `sr` not positive.
    """
    samples = np.asarray(wave)
    if samples.ndim not in (1, 2) or sr <= 0:
        raise ValueError(f"write_wav expects wave [S] or [S, C] and sr > 0, got shape {samples.shape}, sr {sr}")
    if samples.dtype != np.int16:
        samples = np.rint(np.clip(samples.astype(np.float64), -1.0, 1.0) * 32767.0).astype(np.int16)
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    with atomic_path(path) as tmp:
        with wave_module.open(str(tmp), "wb") as out:
            out.setnchannels(channels)
            out.setsampwidth(2)
            out.setframerate(int(sr))
            out.writeframes(np.ascontiguousarray(samples).astype("<i2").tobytes())
    return Path(path)


def _check_duration(seconds: float, name: str) -> None:
    if seconds > MAX_AUDIO_SECONDS:
        raise InputError(f"{name} is too long ({seconds:.0f} s); the limit is {MAX_AUDIO_SECONDS:.0f} s "
                         f"({MAX_AUDIO_SECONDS / 60:.0f} minutes): trim or split it")


def _mono_from_pair(pair: tuple) -> tuple[np.ndarray, int]:
    """(wave, rate) or (rate, wave) -> (float32 mono [S], rate)."""
    if len(pair) != 2:
        raise InputError(f"audio pair must be (wave, sample_rate), got a tuple of {len(pair)} items")
    first, second = pair
    wave, rate = (second, first) if np.isscalar(first) or np.ndim(first) == 0 else (first, second)
    if not np.isscalar(rate) and np.ndim(rate) != 0:
        raise InputError("audio pair must be (wave, sample_rate) with an integer sample rate")
    rate_f = float(rate)
    if not rate_f.is_integer() or rate_f <= 0:
        raise InputError(f"audio sample rate must be a positive integer (Hz), got {rate!r}")
    samples = np.asarray(wave)
    if samples.ndim == 2 and samples.shape[0] <= _MAX_CHANNELS_FIRST < samples.shape[1]:
        samples = samples.T  # [C, S] -> [S, C]
    if samples.ndim not in (1, 2):
        raise InputError(f"audio array must be [S] or [S, C], got shape {samples.shape}")
    values = _to_unit_float(samples)
    if values.ndim == 2:
        values = values.mean(axis=1) if values.shape[1] > 0 else np.zeros(0, np.float32)
    return values.astype(np.float32), int(rate_f)


def _to_unit_float(samples: np.ndarray) -> np.ndarray:
    if samples.dtype == np.int16:
        return samples.astype(np.float32) / 32768.0
    if samples.dtype == np.int32:
        return (samples.astype(np.float64) / 2.0**31).astype(np.float32)
    if samples.dtype == np.uint8:
        return (samples.astype(np.float32) - 128.0) / 128.0
    if np.issubdtype(samples.dtype, np.floating):
        values = samples.astype(np.float32)
        if not np.all(np.isfinite(values)):
            raise InputError("audio array contains NaN or infinity")
        return values
    raise InputError(f"unsupported audio array dtype {samples.dtype}; use int16, int32, uint8 or float")


def _decode_file(path: Path) -> tuple[np.ndarray, int]:
    """Decode the first audio stream of a media file -> (float32 mono [S], native rate)."""
    import av

    if not path.exists():
        raise InputError(f"audio file '{path}' does not exist; check the path")
    if path.is_dir():
        raise InputError(f"'{path}' is a directory, not an audio file")
    try:
        with av.open(str(path), mode="r") as container:
            if not container.streams.audio:
                raise InputError(f"'{path}' has no audio track; give a wav/mp3/m4a/flac/ogg file or a video "
                                 "with sound")
            if container.duration is not None:
                _check_duration(container.duration / 1e6 - 1.0, f"audio file '{path}'")  # 1 s header slack
            return _decode_stream(container, f"audio file '{path}'")
    except av.FFmpegError as err:  # its str() repeats the errno number and the path: keep the reason only
        raise InputError(f"could not decode audio file '{path}': {_reason(err)}; it may be damaged; "
                         "convert it to wav or mp3") from err
    except (ValueError, OSError) as err:  # resampler setup changes mid-stream, I/O errors
        if isinstance(err, InputError):
            raise
        raise InputError(f"could not decode audio file '{path}': {_reason(err)}") from err


def _reason(err: Exception) -> str:
    """The human part of an FFmpeg/OS error: its strerror without the errno number or file name."""
    reason = getattr(err, "strerror", None) or str(err)
    return reason[0].lower() + reason[1:] if reason else "unreadable data"


def _trim_to_stream_duration(mono: np.ndarray, container, stream, rate: int) -> np.ndarray:
    """Drop encoder padding after the end of an mp4/mov audio track (AAC's last frame is padded to 1024 samples).

    FFmpeg already drops the priming samples at the start (edit list); the end is cut to the stream's stored
    duration, only for mp4/mov (whose durations are exact) and only when the excess is under 0.1 s.
    """
    if "mp4" not in container.format.name or stream.duration is None or stream.time_base is None:
        return mono
    expected = round(float(stream.duration * stream.time_base) * rate)
    if 0 < mono.size - expected <= 0.1 * rate:
        return mono[:expected]
    return mono


def _decode_stream(container, name: str) -> tuple[np.ndarray, int]:
    import av

    stream = container.streams.audio[0]
    converter = av.AudioResampler(format="fltp")  # keep layout and rate; planar float32 [C, n]
    chunks: list[np.ndarray] = []
    n_samples, rate = 0, stream.rate or 0
    for frame in container.decode(stream):
        rate = frame.sample_rate or rate
        for converted in converter.resample(frame):
            planes = converted.to_ndarray()
            chunks.append(planes.mean(axis=0, dtype=np.float32))
            n_samples += chunks[-1].size
        if rate and n_samples / rate > MAX_AUDIO_SECONDS:
            _check_duration(n_samples / rate, name)
    for converted in converter.resample(None):
        chunks.append(converted.to_ndarray().mean(axis=0, dtype=np.float32))
    if not rate:
        raise InputError(f"{name} has no sample rate; it may be damaged")
    mono = _trim_to_stream_duration(np.concatenate(chunks) if chunks else np.zeros(0, np.float32), container,
                                    stream, rate)
    if not np.all(np.isfinite(mono)):
        raise InputError(f"{name} decodes to NaN/infinite samples; it may be damaged")
    return mono, int(rate)
