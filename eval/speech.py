"""What the metrics need from the speech: phones with times, the loudness envelope per video frame, and silences.

Phones come from vasa3d's PocketSphinx forced alignment (`vasa3d.motion.phones.align_transcript`; Huggins-Daines
et al. 2006), ARPAbet symbols without stress digits; FACTS.md measured phone starts within a median 11-15 ms of
the truth. Without a transcript the phones come from PocketSphinx phone recognition
(`vasa3d.motion.phones.recognize_phones`, en-US phone LM; phone error ~0.55 on read English, FACTS.md), flagged as
`source = "recognition"` in the results. For the bilabial metrics what matters is that a recognised P/B/M lies where
the lips really close: on the real GRID video (no transcript given) 40 of 43 recognised bilabials in six 10 s clips
(0.93) fall on closed lips. A recognised bilabial between two silences is dropped (lip smacks and breath noise in
pauses, where a closed mouth proves nothing).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPEECH_SR = 16000
BILABIALS = frozenset({"P", "B", "M"})
OPEN_VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY"})
SILENCE_HOP_S = 0.01
SILENCE_WIN_S = 0.03
SILENCE_DB = -25.0
"""A 30 ms window is silent when its median-filtered level is this many dB below the clip's 95th percentile."""
SILENCE_MEDIAN_WINDOWS = 11
MIN_SILENCE_S = 0.5


@dataclass(frozen=True)
class PhoneSpan:
    """One aligned phone: start_s, end_s seconds from the start of the audio, ARPAbet phone (no stress digit)."""

    start_s: float
    end_s: float
    phone: str


PHONE_SOURCES = ("transcript", "recognition", "none")


def case_phones(wave16: np.ndarray, transcript: str | None) -> tuple[list[PhoneSpan] | None, str | None, str]:
    """Phones of a case: forced alignment of its transcript when there is one, else phone recognition.

    Returns (phones, None, source) or (None, reason, "none"); source is "transcript" or "recognition".
    """
    if transcript and transcript.strip():
        phones, why = align_phones(wave16, transcript)
        return (phones, None, "transcript") if phones else (None, why, "none")
    phones = recognize(wave16)
    if not phones:
        return None, "no transcript, and phone recognition found no speech", "none"
    return phones, None, "recognition"


def recognize(wave16: np.ndarray) -> list[PhoneSpan]:
    """Recognised phones of `wave16` [S] float32 at 16 kHz (see the module docstring); bilabials flanked by
    silence on both sides are dropped."""
    from vasa3d.motion.phones import recognize_phones

    raw = [PhoneSpan(p.start_s, p.end_s, p.phone.rstrip("012").upper())
           for p in recognize_phones(np.asarray(wave16, np.float32))]
    out = []
    for i, p in enumerate(raw):
        before = raw[i - 1].phone if i > 0 else "SIL"
        after = raw[i + 1].phone if i + 1 < len(raw) else "SIL"
        if p.phone in BILABIALS and before == "SIL" and after == "SIL":
            continue
        out.append(p)
    return [p for p in out if p.phone != "SIL"]


def align_phones(wave16: np.ndarray, transcript: str | None) -> tuple[list[PhoneSpan] | None, str | None]:
    """Phones of `wave16` [S] float32 at 16 kHz given its transcript.

    Returns (phones, None) or (None, reason) when there is no transcript, it is not English, or the alignment fails.
    """
    from vasa3d.motion.phones import align_transcript, is_english_text

    if not transcript or not transcript.strip():
        return None, "no transcript"
    if not is_english_text(transcript):
        return None, "transcript is not English (the aligner's model is en-US)"
    phones = align_transcript(np.asarray(wave16, np.float32), transcript)
    if not phones:
        return None, "forced alignment failed"
    return [PhoneSpan(p.start_s, p.end_s, p.phone.rstrip("012").upper()) for p in phones], None


def rms_envelope(wave: np.ndarray, sr: int, fps: float, num_frames: int) -> np.ndarray:
    """float64 [num_frames] RMS of the audio in a window of one video frame (1 / fps) centred on each frame time
    t / fps (zero past the end of the audio)."""
    wave = np.asarray(wave, np.float64)
    half = 0.5 * sr / fps
    out = np.zeros(num_frames)
    for t in range(num_frames):
        c = t * sr / fps
        seg = wave[max(0, int(round(c - half))):max(0, int(round(c + half)))]
        out[t] = np.sqrt(np.mean(seg ** 2)) if len(seg) else 0.0
    return out


def silent_spans(wave: np.ndarray, sr: int, min_s: float = MIN_SILENCE_S) -> list[tuple[float, float]]:
    """Silent stretches of at least `min_s` seconds: [(start_s, end_s), ...].

    Levels: RMS of 30 ms windows (10 ms hop) in dB re the 95th percentile of all windows, median-filtered over
    11 windows (110 ms) so that single noisy windows neither make nor break a pause; a window is silent below
    -25 dB (old or noisy recordings pause at about -30 dB, speech dips below -25 dB only briefly). Runs of silent
    windows lasting `min_s` or more are returned.
    """
    wave = np.asarray(wave, np.float64)
    hop, win = int(SILENCE_HOP_S * sr), int(SILENCE_WIN_S * sr)
    n = max(0, 1 + (len(wave) - win) // hop)
    if n == 0:
        return []
    rms = np.array([np.sqrt(np.mean(wave[i * hop:i * hop + win] ** 2)) for i in range(n)])
    ref = np.percentile(rms, 95)
    if ref <= 0:
        return [(0.0, len(wave) / sr)] if len(wave) / sr >= min_s else []
    from scipy.ndimage import median_filter

    level = median_filter(20 * np.log10(np.maximum(rms, 1e-12) / ref), SILENCE_MEDIAN_WINDOWS, mode="nearest")
    silent = level < SILENCE_DB
    spans, start = [], None
    for i, s in enumerate(np.append(silent, False)):
        if s and start is None:
            start = i
        elif not s and start is not None:
            a, b = start * hop / sr, min(len(wave) / sr, (i - 1) * hop / sr + win / sr)
            if b - a >= min_s:
                spans.append((a, b))
            start = None
    return spans
