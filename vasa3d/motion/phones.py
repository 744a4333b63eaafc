"""Phones with times from speech: PocketSphinx 5 forced alignment (transcript known), PocketSphinx phone
recognition (no transcript), and an acoustic fallback for other languages (syllable nuclei at energy peaks,
consonant closures at energy valleys).

All phone lists are `[Phone(start_s, end_s, phone), ...]` in time order; PocketSphinx gives ARPAbet symbols
(AA ... ZH, SIL), the acoustic fallback gives ARPAbet-like symbols as well. The en-US acoustic model, dictionary
and phone language model ship inside the pocketsphinx wheel (no downloads). Method: Huggins-Daines et al. 2006,
"PocketSphinx: a free, real-time continuous speech recognition system for hand-held devices"; alignment is a
Viterbi pass over the word graph of the transcript followed by a second pass for phone boundaries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from vasa3d.motion.features import FEATURE_SR, HOP_S, AudioFeatures

PS_FRAME_S = 0.01
"""PocketSphinx frame period (frate 100)."""
ALIGN_BEAMS = {"beam": 1e-80, "pbeam": 1e-80, "wbeam": 1e-60}
"""Wider than PocketSphinx's defaults (1e-48): with those, alignment of synthetic or fast speech often fails to
reach the end of the transcript; this costs ~10% more time."""


@dataclass(frozen=True)
class Phone:
    """One phone: start_s, end_s seconds from the start of the audio; phone an ARPAbet or espeak symbol."""

    start_s: float
    end_s: float
    phone: str


def as_phones(items) -> list[Phone]:
    """Normalise phone segments (objects with start_s/end_s/phone, or (start_s, end_s, phone) tuples) to a
    time-sorted list of `Phone`. Raises ValueError for a segment with end_s < start_s or a non-finite time."""
    out = []
    for it in items:
        if isinstance(it, (tuple, list)):
            s, e, p = it
        else:
            s, e, p = it.start_s, it.end_s, it.phone
        s, e = float(s), float(e)
        if not (np.isfinite(s) and np.isfinite(e)) or e < s:
            raise ValueError(f"bad phone segment {it!r}: need finite start_s <= end_s")
        out.append(Phone(s, e, str(p)))
    return sorted(out, key=lambda p: p.start_s)


def _pcm16(x16: np.ndarray) -> bytes:
    """16-bit PCM bytes with a fixed-seed dither of 2 LSB: PocketSphinx's features break down on digital silence
    (exact zeros, as synthetic speech has), and alignment then fails to reach the end of the grammar."""
    dither = np.random.default_rng(0).normal(0.0, 2.0, len(x16))
    return np.clip(x16.astype(np.float64) * 32767.0 + dither, -32768, 32767).astype("<i2").tobytes()


# ---------------------------------------------------------------------- text -> words
_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen " \
        "seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _number_words(n: int) -> list[str]:
    """English words for 0 <= n < 10**9 (digits beyond that are read one by one)."""
    if n < 20:
        return [_ONES[n]]
    if n < 100:
        return [_TENS[n // 10]] + (_number_words(n % 10) if n % 10 else [])
    for size, name in ((10**6, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            return _number_words(n // size) + [name] + (_number_words(n % size) if n % size else [])
    return []


def transcript_words(text: str) -> list[str]:
    """Lower-case words of an English transcript, numbers spelled out, punctuation dropped."""
    words: list[str] = []
    for tok in re.findall(r"[A-Za-z']+|\d+", text):
        if tok.isdigit():
            words += _number_words(int(tok)) if len(tok) <= 9 else [_ONES[int(d)] for d in tok]
        else:
            tok = tok.strip("'").lower()
            if tok:
                words.append(tok)
    return words


def is_english_text(text: str) -> bool:
    """True when most letters of `text` are ASCII (a transcript PocketSphinx's en-US model can align)."""
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(c.isascii() for c in letters) >= 0.8 * len(letters)


_G2P_RULES = [
    ("tch", "CH"), ("igh", "AY"), ("th", "TH"), ("sh", "SH"), ("ch", "CH"), ("ph", "F"), ("ng", "NG"),
    ("ck", "K"), ("qu", "K W"), ("wh", "W"), ("ee", "IY"), ("ea", "IY"), ("oo", "UW"), ("ou", "AW"),
    ("ow", "OW"), ("ai", "EY"), ("ay", "EY"), ("oa", "OW"), ("oi", "OY"), ("oy", "OY"), ("au", "AO"),
    ("aw", "AO"), ("a", "AE"), ("b", "B"), ("c", "K"), ("d", "D"), ("e", "EH"), ("f", "F"), ("g", "G"),
    ("h", "HH"), ("i", "IH"), ("j", "JH"), ("k", "K"), ("l", "L"), ("m", "M"), ("n", "N"), ("o", "AA"),
    ("p", "P"), ("q", "K"), ("r", "R"), ("s", "S"), ("t", "T"), ("u", "AH"), ("v", "V"), ("w", "W"),
    ("x", "K S"), ("y", "Y"), ("z", "Z"),
]


def guess_pronunciation(word: str) -> str:
    """Crude letter-to-sound rules (ARPAbet, space separated) for words missing from the dictionary; good enough
    for visemes (bilabials, labiodentals, rounding and open vowels are spelled predictably)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if len(w) > 2 and w.endswith("e") and w[-2] not in "aeiou":
        w = w[:-1]
    phones, i = [], 0
    while i < len(w):
        for g, p in _G2P_RULES:
            if w.startswith(g, i):
                if g == "y" and (i == len(w) - 1 or i > 0):
                    p = "IY"
                if not phones or phones[-1] != p:
                    phones.append(p)
                i += len(g)
                break
        else:
            i += 1
    return " ".join(phones) or "AH"


# ---------------------------------------------------------------------- PocketSphinx
def _decoder(**kwargs):
    import pocketsphinx

    return pocketsphinx.Decoder(loglevel="FATAL", **kwargs)


LONG_AUDIO_S = 40.0
"""Longer audio is aligned (and recognised) in chunks cut at pauses: PocketSphinx's phone-alignment pass
needs memory and time that grow faster than linearly (10 min in one piece: ~8 GB, ~70 s)."""
CHUNK_S = (15.0, 30.0)
"""A chunk ends at the quietest 300 ms within this range of seconds after its start."""


def align_transcript(x16: np.ndarray, transcript: str) -> list[Phone] | None:
    """Forced alignment of an English transcript to 16 kHz speech x16 [S] float32 (PocketSphinx 5, en-US).

    Words missing from the CMU dictionary get a rule-based pronunciation. Audio longer than LONG_AUDIO_S is
    cut at pauses (`pause_cuts`); each chunk's words are found by decoding it with a grammar that accepts any
    prefix of the remaining words, then aligned alone. Returns ARPAbet phones with "SIL" for pauses, or None
    when the text has no words or the alignment fails (the caller then falls back).
    """
    words = transcript_words(transcript)
    if not words or len(x16) < FEATURE_SR // 10:
        return None
    d = _decoder(lm=None, bestpath=False, **ALIGN_BEAMS)
    for w in sorted(set(words)):
        if d.lookup_word(w) is None:
            d.add_word(w, guess_pronunciation(w), False)
    cuts = pause_cuts(x16)
    voiced = _voiced_seconds(x16, cuts)
    phones: list[Phone] = []
    pos = 0
    for k, (a, b) in enumerate(cuts):
        chunk = x16[a:b]
        if k + 1 < len(cuts):
            est = len(words) * voiced[k] / max(sum(voiced[k:]), 1e-6) * (len(words) - pos) / len(words)
            n = _prefix_length(d, chunk, words[pos:pos + int(1.5 * est) + 20], k)
        else:
            n = len(words) - pos
        if n is None:
            return None
        part = _align_words(d, chunk, words[pos:pos + n]) if n else [Phone(0.0, len(chunk) / FEATURE_SR, "SIL")]
        if part is None:
            return None
        phones += [Phone(p.start_s + a / FEATURE_SR, p.end_s + a / FEATURE_SR, p.phone) for p in part]
        pos += n
    return phones or None


def _align_words(d, x16: np.ndarray, words: list[str]) -> list[Phone] | None:
    """Two-pass PocketSphinx alignment (words, then phones) of `words` to x16; None on failure."""
    pcm = _pcm16(x16)
    try:
        d.set_align_text(" ".join(words))
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        if d.hyp() is None:
            return None
        d.set_alignment()
        d.start_utt()
        d.process_raw(pcm, full_utt=True)
        d.end_utt()
        alignment = d.get_alignment()
    except RuntimeError:
        return None
    if alignment is None:
        return None
    return [Phone(p.start * PS_FRAME_S, (p.start + p.duration) * PS_FRAME_S, p.name) for p in alignment.phones()]


def _prefix_length(d, x16: np.ndarray, words: list[str], k: int) -> int | None:
    """How many of `words` (from the first) are spoken in x16: decode with a grammar accepting any prefix."""
    n = len(words)
    trans = [(i, i + 1, 1.0, w) for i, w in enumerate(words)] + [(i, n + 1, 0.1) for i in range(n + 1)]
    try:
        d.add_fsg(f"prefix{k}", d.create_fsg(f"prefix{k}", 0, n + 1, trans))
        d.activate_search(f"prefix{k}")
        d.start_utt()
        d.process_raw(_pcm16(x16), full_utt=True)
        d.end_utt()
        hyp = d.hyp()
    except (RuntimeError, ValueError):
        return None
    if hyp is None:
        return None
    return len([w for w in hyp.hypstr.split() if not w.startswith(("<", "+", "["))])


def pause_cuts(x16: np.ndarray) -> list[tuple[int, int]]:
    """[(start_sample, stop_sample), ...] covering x16: one piece when it is at most LONG_AUDIO_S long, else
    chunks that end at the quietest 300 ms window (RMS) between CHUNK_S[0] and CHUNK_S[1] s after their start."""
    n = len(x16)
    if n <= LONG_AUDIO_S * FEATURE_SR:
        return [(0, n)]
    hop = int(HOP_S * FEATURE_SR)
    frames = n // hop
    power = np.square(x16[:frames * hop].astype(np.float64)).reshape(frames, hop).mean(1)
    smooth = np.convolve(power, np.ones(30) / 30, mode="same")
    cuts, start = [], 0
    while n - start > CHUNK_S[1] * FEATURE_SR:
        lo, hi = (start + int(CHUNK_S[0] * FEATURE_SR)) // hop, (start + int(CHUNK_S[1] * FEATURE_SR)) // hop
        stop = (lo + int(np.argmin(smooth[lo:hi]))) * hop
        cuts.append((start, stop))
        start = stop
    cuts.append((start, n))
    return cuts


def _voiced_seconds(x16: np.ndarray, cuts: list[tuple[int, int]]) -> list[float]:
    """Seconds of 10 ms frames with power within 33 dB of the peak sample's, per chunk (to share the words
    among the chunks in proportion to their speech)."""
    hop = int(HOP_S * FEATURE_SR)
    out = []
    threshold = (float(np.max(np.abs(x16))) ** 2 + 1e-12) * 10 ** (-33 / 10)
    for a, b in cuts:
        seg = x16[a:b][: (b - a) // hop * hop].astype(np.float64)
        power = np.square(seg).reshape(-1, hop).mean(1) if len(seg) else np.zeros(0)
        out.append(float((power > threshold).sum()) * HOP_S)
    return out


def recognize_phones(x16: np.ndarray) -> list[Phone]:
    """Phone recognition without a transcript (PocketSphinx allphone search with the en-US phone LM).

    x16 [S] float32 at 16 kHz, decoded in chunks cut at pauses when long (`pause_cuts`). Returns ARPAbet phones
    (SIL and noise fillers mapped to "SIL"); the phone error rate is high (~0.55 on read English), so the
    caller gates the result with loudness.
    """
    import pocketsphinx

    d = _decoder(allphone=pocketsphinx.get_model_path("en-us/en-us-phone.lm.bin"), lm=None, lw=2.0,
                 beam=1e-20, pbeam=1e-20, bestpath=False)
    out = []
    for a, b in pause_cuts(x16):
        d.start_utt()
        d.process_raw(_pcm16(x16[a:b]), full_utt=True)
        d.end_utt()
        t0 = a / FEATURE_SR
        for s in d.seg() or ():  # None when the chunk is too short to decode
            name = s.word if re.fullmatch(r"[A-Z]{1,2}", s.word) else "SIL"
            out.append(Phone(t0 + s.start_frame * PS_FRAME_S, t0 + (s.end_frame + 1) * PS_FRAME_S, name))
    return out


# ---------------------------------------------------------------------- acoustic fallback
def acoustic_phones(features: AudioFeatures) -> list[Phone]:
    """Language-independent pseudo-phones (ARPAbet vowels, "CL" closures, "S"/"T" consonants, "SIL") from
    loudness and spectral shape.

    Syllable nuclei are peaks of the 40 ms-smoothed openness envelope (prominence >= 0.12, >= 90 ms apart), each a
    vowel spanning where the envelope stays above half its peak. Its class follows the nucleus' spectral
    centroid rank within the utterance (darkest quarter -> "AO"/"UH", brightest quarter -> "EH"/"IY", else
    "AA"/"AH"; the first of each pair when loud). The deepest valley between two nuclei becomes a 70 ms
    consonant: a lip closure "CL" when the level drops low (< 0.1) and the spectrum is not noisy, a fricative
    "S" when it is noisy (spectral flatness > 0.3), else an alveolar "T". Silences (openness 0 for > 0.5 s
    between nuclei) are "SIL". So the lips close between syllables, as they do in most languages.
    """
    from scipy.ndimage import gaussian_filter1d
    from scipy.signal import find_peaks

    env = gaussian_filter1d(features.openness.astype(np.float64), 0.04 / HOP_S / 2.355)
    t = features.times_s
    peaks, _ = find_peaks(env, prominence=0.12, distance=max(1, int(0.09 / HOP_S)), height=0.1)
    if len(peaks) == 0:
        return _fill_silence([], float(t[-1]) if len(t) else 0.0)
    cents = features.centroid_hz[peaks]
    rank = (np.argsort(np.argsort(cents)) + 0.5) / len(peaks)
    bounds = [0] + [int(a + np.argmin(env[a:b])) for a, b in zip(peaks[:-1], peaks[1:])] + [len(env) - 1]
    segs: list[Phone] = []
    for k, p in enumerate(peaks):
        loud = env[p] > 0.6
        pair = ("AO", "UH") if rank[k] < 0.25 else ("EH", "IY") if rank[k] > 0.75 else ("AA", "AH")
        segs.append(_nucleus(env, t, p, bounds[k], bounds[k + 1], k, len(peaks), pair[0] if loud else pair[1]))
        if k + 1 < len(peaks):
            v = bounds[k + 1]
            if env[v] <= 0.02 and t[peaks[k + 1]] - t[p] > 0.5:
                continue  # a pause: _fill_silence inserts SIL
            if features.flatness[v] > 0.3 and env[v] > 0.15:
                cons = "S"
            else:
                cons = "CL" if env[v] < 0.1 else "T"
            segs.append(Phone(t[v] - 0.035, t[v] + 0.035, cons))
    return _fill_silence(segs, float(t[-1]))


def _nucleus(env, t, p: int, lo: int, hi: int, k: int, n: int, vowel: str) -> Phone:
    """The vowel around peak p: where env stays above half its peak, kept 35 ms clear of the valleys."""
    a, b = p, p
    while a > lo and env[a - 1] >= 0.5 * env[p]:
        a -= 1
    while b < hi and env[b + 1] >= 0.5 * env[p]:
        b += 1
    start = max(t[a], t[lo] + 0.035) if k else t[a]
    stop = min(t[b], t[hi] - 0.035) if k + 1 < n else t[b]
    return Phone(min(start, t[p] - 0.02), max(stop, t[p] + 0.02), vowel)


def _fill_silence(segs: list[Phone], end_s: float, max_join_s: float = 0.15) -> list[Phone]:
    """Make a time-sorted phone list cover [0, end_s]: gaps shorter than max_join_s between two phones are split
    between them, other gaps become "SIL"."""
    out: list[Phone] = []
    cur = 0.0
    for s in segs:
        start = max(s.start_s, cur)
        if start > cur + 1e-6:
            if out and start - cur < max_join_s:
                mid = 0.5 * (cur + start)
                out[-1] = Phone(out[-1].start_s, mid, out[-1].phone)
                start = mid
            else:
                out.append(Phone(cur, start, "SIL"))
        out.append(Phone(start, max(start, s.end_s), s.phone))
        cur = max(cur, s.end_s)
    if end_s > cur + 1e-6:
        out.append(Phone(cur, end_s, "SIL"))
    return out
