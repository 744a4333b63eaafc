"""Offline text-to-speech with exact phone and word timings: the espeak-ng C library through ctypes.

The library and its data come from the `espeakng-loader` wheel (no system install, nothing downloaded).
Synthesis is synchronous (AUDIO_OUTPUT_SYNCHRONOUS): espeak calls our callback with 16-bit samples at
22050 Hz and with events; espeakEVENT_PHONEME carries the phoneme mnemonic (`id.string`, char[8]) and
espeakEVENT_WORD the word's character position in the text, each stamped with its sample position
(`sample`, cross-checked against `audio_position` in ms), so timings are exact to the sample.

Phone alphabet: espeak-ng's own phoneme mnemonics for the chosen voice (not IPA, not ARPAbet), as listed in
its phoneme tables (espeak-ng docs/phonemes.md), with stress marks removed (kept in `PhoneSegment.stress`).
For English: vowels @ @2 @5 @L 3 3: a a# aa A: A@ aI aI@ aU aU@ e@ E eI i i: i@ i@3 I I# I2 0 O O: O@ OI
o@ oU u: U U@ V; consonants p b t d k g t# t2 d# tS dZ f v T D s z S Z h m n N n- l r w j ? ; (";" is a
short linking glide). Language-switch markers ("(en)", "(fr)") are dropped. Every pause mnemonic ("_", "_:", "_!", ...) and any gap before the first phone become
"sil". `load_phones` returns the same alphabet.

Stop closures: espeak stamps a voiceless stop (p, t, k, tS) at its release, after the silent closure, and
counts the closure in the preceding phone. Since the closure is when the lips are shut (what lip sync needs), a
silent stretch (power 45 dB under the utterance's loud level) that ends right at a phone's start is moved from
the preceding phone to that phone. Voiced stops are stamped at closure onset already. After a pause the
closure is inaudible and stays in "sil".

Determinism: espeak keeps some synthesis state (pitch perturbation) across utterances in one process, so a repeated call
gives audio that differs by a few samples (under 1 ms) in length; phones and words are the same.
Words are whitespace tokens, so text without spaces (Chinese, Japanese) gives one word per run of text.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import string
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from vasa3d.errors import InputError
from vasa3d.io.atomic import atomic_write
from vasa3d.io.media import file_sha256

MAX_TEXT_CHARS = 5000
MIN_RATE_WPM, MAX_RATE_WPM = 80, 450
SILENCE = "sil"
SIDECAR_SUFFIX = ".phones.json"
SIDECAR_VERSION = 1
STRESS_MARKS = {"'": 1, ",": 2}  # espeak: ' primary, , secondary stress (prefix of a vowel's mnemonic)

CLOSURE_QUIET_DB = -45.0  # a sample window this far under the loud level counts as silent
CLOSURE_WINDOW_S = 0.005  # power is averaged over this window
CLOSURE_SEARCH_S = 0.012  # the silent run must end this close before the phone's event
CLOSURE_MIN_S = 0.010  # shorter silent runs are ignored
MIN_PHONE_S = 0.015  # the preceding phone keeps at least this much

# espeak-ng speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS, _INITIALIZE_DONT_EXIT = 0x0001, 0x8000
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_PHONEME = 0, 1, 7
_POS_CHARACTER = 1
_CHARS_UTF8, _ENDPAUSE = 0x1, 0x1000  # not espeakPHONEMES: user text "[[..]]" must not be read as phonemes
_PARAM_RATE = 1
_EE_OK = 0


@dataclass(frozen=True)
class PhoneSegment:
    """One phone: [start_s, end_s) in seconds from the start of the audio; `phone` an espeak mnemonic or "sil";
    `stress` 0 none, 1 primary, 2 secondary (vowels only)."""

    start_s: float
    end_s: float
    phone: str
    stress: int = 0


@dataclass(frozen=True)
class WordSegment:
    """One spoken word of the input text: [start_s, end_s) in seconds; `word` the text token (punctuation
    stripped; a number or abbreviation that espeak expands into several words is one segment)."""

    start_s: float
    end_s: float
    word: str


@dataclass
class Speech:
    """Synthesized speech: `wave` float32 [S] in [-1, 1] at `sr` Hz (22050), with phone and word timings.

    `phones` are contiguous and cover [0, S / sr] exactly; `words` are in order, inside that span.
    """

    wave: np.ndarray
    sr: int
    phones: list[PhoneSegment]
    words: list[WordSegment]
    text: str = ""
    voice: str = ""
    meta: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        """Length of `wave` in seconds."""
        return self.wave.size / self.sr

    def save(self, wav_path: str | os.PathLike) -> Path:
        """Write the wav (16-bit PCM, atomic) and the sidecar `<stem>.phones.json` beside it; returns the wav path.

        The sidecar holds phones, words, text, voice and the wav's SHA-256, so that `load_phones` can tell
        whether it still belongs to the wav. Raises what `write_wav` raises (e.g. a missing directory).
        """
        from vasa3d.io.audio import write_wav

        wav_path = Path(wav_path)
        write_wav(wav_path, self.wave, self.sr)
        record = {"version": SIDECAR_VERSION, "alphabet": "espeak-ng mnemonics", "sr": self.sr,
                  "duration_s": self.duration_s, "text": self.text, "voice": self.voice,
                  "wav_sha256": file_sha256(wav_path),
                  "phones": [asdict(p) for p in self.phones], "words": [asdict(w) for w in self.words]}
        with atomic_write(sidecar_path(wav_path), "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False, indent=1)
        return wav_path


def sidecar_path(wav_path: str | os.PathLike) -> Path:
    """The phone-timing sidecar of a wav: ``dir/name.wav`` -> ``dir/name.phones.json``."""
    wav_path = Path(wav_path)
    return wav_path.with_name(wav_path.stem + SIDECAR_SUFFIX)


def load_phones(wav_path: str | os.PathLike) -> list[PhoneSegment] | None:
    """Exact phones saved by `Speech.save` beside `wav_path`, or None.

    None when there is no sidecar, or when the wav no longer matches the SHA-256 recorded in it (the audio
    was replaced after synthesis). Raises InputError when the sidecar exists but is not valid JSON of this format.
    """
    record = _load_sidecar(wav_path)
    return None if record is None else [PhoneSegment(**p) for p in record["phones"]]


def load_words(wav_path: str | os.PathLike) -> list[WordSegment] | None:
    """Words saved by `Speech.save` beside `wav_path`, or None (same rules as `load_phones`)."""
    record = _load_sidecar(wav_path)
    return None if record is None else [WordSegment(**w) for w in record["words"]]


def _load_sidecar(wav_path: str | os.PathLike) -> dict | None:
    wav_path, side = Path(wav_path), sidecar_path(wav_path)
    if not side.is_file():
        return None
    try:
        record = json.loads(side.read_text(encoding="utf-8"))
        if record.get("version") != SIDECAR_VERSION or not isinstance(record.get("phones"), list):
            raise ValueError(f"unknown format version {record.get('version')!r}")
        for item in record["phones"] + record.get("words", []):
            if not isinstance(item, dict):
                raise ValueError("segments must be objects")
    except (OSError, ValueError) as err:
        raise InputError(f"phone timing file '{side}' is unreadable ({err}); delete it or re-run `vasa3d say`")
    if wav_path.is_file() and record.get("wav_sha256") not in (None, file_sha256(wav_path)):
        return None
    return record


def synthesize_speech(text: str, voice: str = "en-us", rate_wpm: int = 160) -> Speech:
    """Speak `text` with espeak-ng, offline; returns audio with exact phone and word timings.

    Args:
        text: UTF-8 text, 1..5000 characters, not only whitespace. Read as plain text (no SSML, no [[phonemes]]).
        voice: an espeak-ng voice name ("en-us", "en", "de", "fr", "cmn", ...) or, failing that, a language
            code matched by espeak's voice selection ("en-gb").
        rate_wpm: speaking rate in words per minute, 80..450.
    Returns:
        `Speech` with wave float32 [S] at 22050 Hz (espeak's native rate), phones (espeak mnemonics, "sil" for
        pauses; see the module docstring) and words.
    Raises:
        InputError: empty/whitespace or over-long text, unknown voice, rate out of range.
        RuntimeError: the espeak-ng library failed to load or to synthesize.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError("text to speak is empty; type a sentence")
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(f"text to speak is too long ({len(text)} characters; the limit is {MAX_TEXT_CHARS}); "
                         "shorten it or split it into parts")
    if not isinstance(voice, str) or not voice.strip():
        raise InputError("no voice given; use an espeak-ng voice such as 'en-us'")
    if not MIN_RATE_WPM <= rate_wpm <= MAX_RATE_WPM:
        raise InputError(f"speaking rate {rate_wpm} wpm is out of range; use {MIN_RATE_WPM}..{MAX_RATE_WPM}")
    samples, events, sr = _ENGINE.synthesize(text, voice, int(rate_wpm))
    wave = samples.astype(np.float32) / 32768.0
    phones = _attribute_closures(_phone_segments(events, samples.size, sr), wave, sr)
    words = _word_segments(text, events, phones, sr)
    return Speech(wave=wave, sr=sr, phones=phones, words=words, text=text, voice=voice,
                  meta={"rate_wpm": int(rate_wpm), "engine": "espeak-ng"})


def has_voice(voice: str) -> bool:
    """True when espeak-ng has `voice` (a voice name such as "fr", "en-us", "cmn", or a language code some voice
    declares); loads the library on first use. Raises RuntimeError when the library fails to load."""
    return isinstance(voice, str) and bool(voice.strip()) and _ENGINE.has_voice(voice.strip())


class _EspeakUnion(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _EspeakEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EspeakUnion)]


class _EspeakVoice(ctypes.Structure):
    # languages: a list of (priority byte, NUL-terminated code), ended by a 0 byte; so a raw pointer here
    _fields_ = [("name", ctypes.c_char_p), ("languages", ctypes.c_void_p), ("identifier", ctypes.c_char_p),
                ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
                ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p)]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                  ctypes.POINTER(_EspeakEvent))


@dataclass(frozen=True)
class _Event:
    kind: int  # _EVENT_WORD or _EVENT_PHONEME
    sample: int  # position in the output, samples
    text_position: int  # 1-based character index (words)
    mnemonic: str  # phoneme mnemonic (phonemes)


class _EspeakEngine:
    """The process-wide espeak-ng library: loaded and initialised once, used under a lock (global C state)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lib = None
        self._sr = 0
        self._language_codes: set[str] | None = None
        self._callback = _SynthCallback(self._on_synth)  # kept alive for the library's lifetime
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int, bytes]] = []

    def synthesize(self, text: str, voice: str, rate_wpm: int) -> tuple[np.ndarray, list[_Event], int]:
        """-> (int16 samples [S], events sorted by sample, sample rate)."""
        with self._lock:
            lib = self._load()
            if not self._set_voice(lib, voice):
                raise InputError(f"unknown espeak-ng voice {voice!r}; try 'en-us', 'en', 'de', 'fr', 'es', 'cmn'")
            lib.espeak_SetParameter(_PARAM_RATE, rate_wpm, 0)
            self._chunks, self._events = [], []
            data = text.encode("utf-8")
            status = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _ENDPAUSE,
                                      None, None)
            if status != _EE_OK:
                raise RuntimeError(f"espeak-ng synthesis failed (status {status})")
            chunks, raw_events = self._chunks, self._events
            self._chunks, self._events = [], []
        samples = np.concatenate(chunks) if chunks else np.zeros(0, np.int16)
        return samples, [self._event(raw, self._sr) for raw in raw_events], self._sr

    def has_voice(self, voice: str) -> bool:
        """Whether `voice` can be selected (see `_set_voice`)."""
        with self._lock:
            return self._set_voice(self._load(), voice)

    def _set_voice(self, lib, voice: str) -> bool:
        """Select a voice by file name ("en-us") or, failing that, by a language code some voice lists ("en-gb")."""
        if lib.espeak_SetVoiceByName(voice.encode("utf-8")) == _EE_OK:
            return True
        if voice.lower() not in self._languages(lib):  # espeak would pick a prefix match ("no-such" -> "no")
            return False
        code = ctypes.create_string_buffer(voice.lower().encode("utf-8"))
        spec = _EspeakVoice(name=None, languages=ctypes.cast(code, ctypes.c_void_p).value, identifier=None)
        return lib.espeak_SetVoiceByProperties(ctypes.byref(spec)) == _EE_OK

    def _languages(self, lib) -> set[str]:
        """All language codes the installed voices declare (espeak_ListVoices), lower case; computed once."""
        if self._language_codes is None:
            codes: set[str] = set()
            voices = lib.espeak_ListVoices(None)
            for k in itertools.count():
                if not voices[k]:
                    break
                address = voices[k].contents.languages
                while address and ctypes.string_at(address, 1) != b"\0":  # priority byte, then the code
                    code = ctypes.string_at(address + 1)
                    codes.add(code.decode("utf-8", errors="replace").lower())
                    address += len(code) + 2
            self._language_codes = codes
        return self._language_codes

    def _load(self):
        if self._lib is not None:
            return self._lib
        import espeakng_loader

        try:
            lib = ctypes.CDLL(espeakng_loader.get_library_path())
        except OSError as err:
            raise RuntimeError(f"could not load the espeak-ng library from espeakng-loader: {err}") from err
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByProperties.argtypes = [ctypes.POINTER(_EspeakVoice)]
        lib.espeak_ListVoices.argtypes = [ctypes.POINTER(_EspeakVoice)]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_EspeakVoice))
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        sr = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(),
                                   _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT)
        if sr <= 0:
            raise RuntimeError(f"espeak-ng failed to initialise (code {sr}); is espeakng-loader installed intact?")
        lib.espeak_SetSynthCallback(self._callback)
        self._lib, self._sr = lib, int(sr)
        return lib

    def _on_synth(self, wav, n_samples, events) -> int:
        if n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            e = events[i]
            if e.type in (_EVENT_WORD, _EVENT_PHONEME):
                mnemonic = bytes(e.id.string) if e.type == _EVENT_PHONEME else b""
                self._events.append((e.type, e.sample, e.audio_position, e.text_position, mnemonic))
            i += 1
        return 0  # continue synthesis

    @staticmethod
    def _event(raw: tuple[int, int, int, int, bytes], sr: int) -> _Event:
        kind, sample, audio_ms, text_position, mnemonic = raw
        if abs(sample * 1000.0 / sr - audio_ms) > 2.0:  # `sample` is espeak-internal: fall back to the ms stamp
            sample = round(audio_ms * sr / 1000.0)
        name = mnemonic.split(b"\0")[0].decode("ascii", errors="replace")
        return _Event(kind=kind, sample=int(sample), text_position=text_position, mnemonic=name)


_ENGINE = _EspeakEngine()


def _normalise_mnemonic(mnemonic: str) -> tuple[str, int]:
    """"'aI" -> ("aI", 1); ",eI" -> ("eI", 2); "_:" -> ("sil", 0)."""
    stress = STRESS_MARKS.get(mnemonic[:1], 0)
    mnemonic = mnemonic.lstrip("".join(STRESS_MARKS))
    if not mnemonic or mnemonic.startswith("_"):
        return SILENCE, 0
    return mnemonic, stress


def _phone_segments(events: list[_Event], n_samples: int, sr: int) -> list[PhoneSegment]:
    """Phoneme events -> contiguous segments covering [0, n_samples / sr], merged silences, no empty phones."""
    marks: list[tuple[int, str, int]] = [(0, SILENCE, 0)]
    for event in sorted((e for e in events if e.kind == _EVENT_PHONEME), key=lambda e: e.sample):
        if event.mnemonic.startswith("("):  # language switch marker such as "(en)", not a sound
            continue
        phone, stress = _normalise_mnemonic(event.mnemonic)
        marks.append((min(max(event.sample, 0), n_samples), phone, stress))
    segments: list[PhoneSegment] = []
    for (start, phone, stress), (end, _, _) in zip(marks, marks[1:] + [(n_samples, SILENCE, 0)]):
        if end <= start:
            continue
        if segments and phone == SILENCE and segments[-1].phone == SILENCE:
            segments[-1] = PhoneSegment(segments[-1].start_s, end / sr, SILENCE)
        else:
            segments.append(PhoneSegment(start / sr, end / sr, phone, stress))
    if not segments:  # no audio at all
        segments.append(PhoneSegment(0.0, n_samples / sr, SILENCE))
    return segments


def _attribute_closures(phones: list[PhoneSegment], wave: np.ndarray, sr: int) -> list[PhoneSegment]:
    """Move a silent stop closure that ends at a phone's start from the preceding speech phone into that phone."""
    if wave.size == 0 or len(phones) < 2:
        return phones
    window = max(1, round(CLOSURE_WINDOW_S * sr))
    power = np.convolve(wave.astype(np.float64) ** 2, np.ones(window) / window, mode="same")
    loud = np.percentile(power, 99)
    if loud <= 0:
        return phones
    quiet = power < loud * 10 ** (CLOSURE_QUIET_DB / 10)
    out = list(phones)
    for i in range(1, len(out)):
        prev, cur = out[i - 1], out[i]
        if prev.phone == SILENCE or cur.phone == SILENCE:
            continue
        boundary = round(cur.start_s * sr)
        lo = round(prev.start_s * sr) + round(MIN_PHONE_S * sr)
        run_start = _quiet_run_start(quiet, boundary, lo, round(CLOSURE_SEARCH_S * sr))
        if run_start is not None and boundary - run_start >= CLOSURE_MIN_S * sr:
            out[i - 1] = PhoneSegment(prev.start_s, run_start / sr, prev.phone, prev.stress)
            out[i] = PhoneSegment(run_start / sr, cur.end_s, cur.phone, cur.stress)
    return out


def _quiet_run_start(quiet: np.ndarray, boundary: int, lo: int, search: int) -> int | None:
    """Start of the quiet run that ends within `search` samples before `boundary` (not before `lo`), or None."""
    end = next((k for k in range(min(boundary, quiet.size) - 1, max(boundary - search, lo) - 1, -1) if quiet[k]),
               None)
    if end is None:
        return None
    start = end
    while start > lo and quiet[start - 1]:
        start -= 1
    return start


def _word_segments(text: str, events: list[_Event], phones: list[PhoneSegment], sr: int) -> list[WordSegment]:
    """Word events -> one segment per whitespace token of `text` (several events in one token are merged).

    A word spans the speech phones whose midpoints fall between its first event and the next word's event.
    """
    token_of = _token_index_per_char(text)
    starts: dict[int, float] = {}
    for event in sorted((e for e in events if e.kind == _EVENT_WORD), key=lambda e: e.sample):
        index = min(max(event.text_position - 1, 0), len(text) - 1)
        while index < len(text) - 1 and token_of[index] < 0:
            index += 1
        if token_of[index] >= 0:
            starts.setdefault(token_of[index], event.sample / sr)
    tokens = text.split()
    ordered = sorted(starts.items(), key=lambda kv: kv[1])
    words = []
    for k, (token, start) in enumerate(ordered):
        limit = ordered[k + 1][1] if k + 1 < len(ordered) else float("inf")
        inside = [p for p in phones if p.phone != SILENCE and start <= (p.start_s + p.end_s) / 2 < limit]
        begin, end = (inside[0].start_s, inside[-1].end_s) if inside else (start, start)
        words.append(WordSegment(begin, end, _strip_punctuation(tokens[token])))
    return words


_PUNCTUATION = string.punctuation + "\u2014\u2013\u201c\u201d\u2018\u2019\u00ab\u00bb\u2026\u00bf\u00a1"


def _strip_punctuation(token: str) -> str:
    return token.strip(_PUNCTUATION) or token


def _token_index_per_char(text: str) -> list[int]:
    """For each character of `text`, the index of its whitespace-separated token, or -1 for whitespace."""
    out, token, inside = [], -1, False
    for ch in text:
        if ch.isspace():
            inside = False
            out.append(-1)
        else:
            if not inside:
                token, inside = token + 1, True
            out.append(token)
    return out
