"""`python -m eval motion-check`: the motion model's lip-sync, silence and head-motion figures, measured by the
independent tracker (`eval.tracking`, MediaPipe Face Mesh) on renders, against phones known exactly or aligned.

Cases (each rendered at `--size` px from one portrait, fixed camera, default motion options but the lip-sync input):
- synthetic speech (espeak-ng, `vasa3d.io.tts`) in English, French, Spanish, German and Japanese: two sentences
  with 1.2 s of silence between them; truth phones are espeak's own events. Condition `text`: motion from the audio
  and the transcript (with `language`); condition `blind`: from the audio alone.
- real English speech (JFK, `../shared/data/audio/a01*`), condition `blind`; truth phones: PocketSphinx forced
  alignment of its transcript (`eval.speech.align_phones`).
- real Mandarin speech (AISHELL, `a09*`), condition `blind`; no phones: the lip-gap/loudness correlation only.
- reference: the real GRID video (`../shared/data/video/v01*`), tracked as it is, phones aligned per sentence.
- the same GRID video's sound driving the portrait (`grid_blind`, no transcript; truth phones as for the
  reference): its figures compare like for like with the reference's, silence above all (the same pauses, where
  a speech clip with shorter pauses weighs the closing and opening at each pause's edges more).
- held-out speech, only when named in `--cases`: other espeak voices and sentences (`HELD_OUT`,
  "held_<voice>_text" / "held_<voice>_blind") and LJ Speech (`held_lj_blind`, truth by forced alignment), to check
  a change on speech (and, with `--portrait`, a face) the default cases were not looked at with.

Figures per case: closure (`eval.metrics.closure`), ratio (`eval.metrics.vowel_openness`: mean inner-lip gap in
open vowels / in p/b/m windows), gap_p50 / gap_p90 (percentiles of the inner-lip gap over speech frames, face
heights), loud_corr (Pearson correlation of the gap and the frame RMS over frames outside silences),
silence (`eval.metrics.silence.silence_lip_motion`, face heights/s), silence_core (the same without the first and last
SILENCE_EDGE_S of each silence, where the lips close after a phrase and open for the next: whether they stay still
in between, comparable across clips with short and long pauses), head (`eval.metrics.head_motion`, deg/s).
espeak phones count as bilabial when p, b or m and as open vowels when their mnemonic starts with a, A, V, 0 or
O (espeak-ng docs/phonemes.md: the open and open-mid vowels, diphthongs from them included).
Prints JSON; `--strip PNG` saves a mouth close-up strip of the English `text` case (or `--strip-case`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from eval.speech import BILABIALS, OPEN_VOWELS, PhoneSpan

FPS = 25.0
SR = 16000
PAUSE_S = 1.2
TEXTS = {
    "en": ("Bob bought a big map of the old harbour. ", "My father made lamb with apple pie and warm bread."),
    "fr": ("Papa a mis la pomme dans un grand panier. ", "Mon ami Bernard parle beaucoup au marché le matin."),
    "es": ("Mamá compró un mapa bonito para Pablo. ", "Mi padre bebe agua fría bajo el árbol blanco."),
    "de": ("Peter baut am Montag ein blaues Boot. ", "Mama hat immer Appetit auf Mandelkuchen mit Birnen."),
    "ja": ("ママはまいばんパンをたべます。", "ぼくはあさ、はまべでさんぽをしました。"),
}
"""Two sentences per espeak-ng language, dense in bilabials and open vowels (Japanese in kana: espeak-ng spells
romaji out letter by letter)."""
_OPEN = re.compile(r"^[aAV0O]")
SILENCE_EDGE_S = 0.12
"""silence_core leaves out this much of each silence at both ends (three frames at 25 fps)."""


@dataclass
class Clip:
    """One input: wave [S] float32 at 16 kHz, truth phones (PhoneSpan with ARPAbet-like classes) or None,
    transcript, espeak language code."""

    name: str
    wave: np.ndarray
    phones: list[PhoneSpan] | None
    transcript: str | None
    language: str


def _class_of(mnemonic: str) -> str:
    """espeak mnemonic -> "P" (bilabial), "AA" (open vowel), "SIL" or "X" (anything else)."""
    s = re.sub(r"[',%=]", "", mnemonic)
    if s in ("sil", "") or s.startswith("_"):
        return "SIL"
    if s.rstrip("-:#") in ("p", "b", "m"):
        return "P"
    return "AA" if _OPEN.match(s) else "X"


_HELD_OUT_EN = ("Please bring me my blue umbrella before the storm. ", "Bob and Pam made a map of the park.")
HELD_OUT = {
    "en+f2": ("en", _HELD_OUT_EN),
    "en-us+m3": ("en", _HELD_OUT_EN),
    "fr+m3": ("fr", ("Le petit bateau blanc part de bonne heure. ", "Maman prépare une belle pomme pour Paul.")),
    "de+f2": ("de", ("Bitte bring mir morgen ein Buch mit. ", "Paul baut eine Mauer aus Stein und Moos.")),
    "es+f2": ("es", ("Por favor, pon el plato blanco en la mesa. ", "Mi abuela bebe mate por la mañana.")),
}
"""Other voices and sentences, for checks on speech the default cases were never looked at with: cases
"held_<voice>_blind" / "held_<voice>_text" (e.g. held_en+f2_blind), run only when named in `--cases`; with
`--portrait`, on portraits the default case does not use either."""


def synthetic_clip(lang: str, voice: str | None = None) -> Clip:
    """Two espeak sentences in `lang` with PAUSE_S of silence between them, at 16 kHz, with espeak's phones
    (`voice`: one of HELD_OUT's voices and its sentences instead of TEXTS[lang])."""
    from vasa3d.io import resample, synthesize_speech

    texts = TEXTS[lang] if voice is None else HELD_OUT[voice][1]
    waves, phones, t0 = [], [], 0.0
    for k, text in enumerate(texts):
        sp = synthesize_speech(text, voice=voice or lang)
        w = resample(sp.wave, sp.sr, SR).astype(np.float32)
        phones += [PhoneSpan(p.start_s + t0, p.end_s + t0, _class_of(p.phone)) for p in sp.phones]
        waves.append(w)
        t0 += len(w) / SR
        if k == 0:
            waves.append(np.zeros(int(PAUSE_S * SR), np.float32))
            t0 += PAUSE_S
    return Clip(f"{voice or lang}_synth", np.concatenate(waves), phones, " ".join(texts), lang)


def classed(phones) -> list[PhoneSpan]:
    """Aligned ARPAbet phones as the figures class them: "P" for the bilabials, "AA" for the open vowels
    (`eval.speech.BILABIALS`, `OPEN_VOWELS`), the others as they are."""
    return [PhoneSpan(p.start_s, p.end_s, "P" if p.phone in BILABIALS else "AA" if p.phone in OPEN_VOWELS else
                      p.phone) for p in phones]


def real_clip(path: Path, language: str, aligned: bool) -> Clip:
    """A shared-data clip; truth phones by forced alignment of its .txt transcript when `aligned`."""
    from vasa3d.io import read_audio

    from eval.speech import align_phones

    wave = read_audio(path, sr=SR).astype(np.float32)
    text = path.with_suffix(".txt").read_text(encoding="utf-8").strip()
    phones = None
    if aligned:
        phones, _ = align_phones(wave, text)
        phones = classed(phones)
    return Clip(path.stem[:3] + "_" + language, wave, phones, text, language)


def silence_cores(silences: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The silences [(start_s, end_s)] less SILENCE_EDGE_S at both ends; those left shorter than two frames are
    dropped."""
    return [(a + SILENCE_EDGE_S, b - SILENCE_EDGE_S) for a, b in silences if b - a > 2 * SILENCE_EDGE_S + 2 / FPS]


def figures(mouth: np.ndarray, track, wave: np.ndarray, phones: list[PhoneSpan] | None) -> dict:
    """The figures of one tracked video (see the module docstring)."""
    from eval.metrics.closure import closure_rate
    from eval.metrics.head_motion import head_motion_dynamics
    from eval.metrics.mouth import frames_in
    from eval.metrics.silence import silence_lip_motion
    from eval.metrics.vowel_openness import vowel_openness
    from eval.speech import rms_envelope, silent_spans

    n = len(mouth)
    silences = silent_spans(wave, SR)
    quiet = np.zeros(n, bool)
    for a, b in silences:
        quiet[frames_in(a, b, FPS, n)] = True
    rms = rms_envelope(wave, SR, FPS, n)
    ok = np.isfinite(mouth) & ~quiet & (np.arange(n) < len(wave) / SR * FPS)
    spans = None if phones is None else [PhoneSpan(p.start_s, p.end_s, {"P": "P", "AA": "AA"}.get(p.phone, "X"))
                                         for p in phones]
    r = lambda s: None if s.value is None else round(float(s.value), 3)  # noqa: E731
    corr = float(np.corrcoef(mouth[ok], rms[ok])[0, 1]) if ok.sum() > 2 and np.std(mouth[ok]) > 0 else None
    return {"closure": r(closure_rate(mouth, FPS, spans)), "ratio": r(vowel_openness(mouth, FPS, spans)),
            "gap_p50": round(float(np.percentile(mouth[ok], 50)), 4) if ok.any() else None,
            "gap_p90": round(float(np.percentile(mouth[ok], 90)), 4) if ok.any() else None,
            "loud_corr": None if corr is None else round(corr, 3),
            "silence": r(silence_lip_motion(mouth, FPS, silences)),
            "silence_core": r(silence_lip_motion(mouth, FPS, silence_cores(silences))),
            "head": r(head_motion_dynamics(track))}


def _motion(clip: Clip, condition: str):
    from dataclasses import fields

    from vasa3d.config import MotionConfig
    from vasa3d.motion import motion_from_audio

    has_language = any(f.name == "language" for f in fields(MotionConfig))
    cfg = MotionConfig(language=clip.language) if has_language and condition == "text" else MotionConfig()
    text = clip.transcript if condition == "text" else None
    return motion_from_audio(clip.wave, SR, text, config=cfg)


def render_and_track(avatar, motion, size: int):
    """uint8 frames [T, size, size, 3] of `motion` on `avatar` (fixed camera) and their `Track`."""
    from vasa3d.pipeline import render_frames

    from eval.tracking import track_video

    angles = np.zeros((motion.num_frames, 2), np.float32)
    frames = np.stack(list(render_frames(avatar, motion, angles, size)))
    return frames, track_video(frames, FPS)


def _grid_paths(data: Path) -> tuple[Path, Path]:
    video = data / "video" / "v01_grid_s1_concat60s.mp4"
    return video, video.with_name("v01_grid_s1_concat60s.transcript.tsv")


def sentence_phones(wave: np.ndarray, tsv: Path) -> list[PhoneSpan]:
    """Phones of 16 kHz `wave` [S] aligned sentence by sentence from a transcript TSV (start, end, -, words per
    line after a header), classed "P" (p, b, m), "AA" (open vowels) or their ARPAbet symbol."""
    from eval.speech import align_phones

    phones = []
    for line in tsv.read_text(encoding="utf-8").splitlines()[1:]:
        a, b, _, words = line.split("\t")
        part, _ = align_phones(wave[int(float(a) * SR):int(float(b) * SR)], words)
        phones += [PhoneSpan(p.start_s + float(a), p.end_s + float(a), p.phone) for p in part or ()]
    return classed(phones)


def grid_clip(data: Path) -> Clip:
    """The GRID video's sound at 16 kHz with its sentence-aligned phones (no transcript given to the motion)."""
    from vasa3d.io import read_audio

    video, tsv = _grid_paths(data)
    wave = read_audio(video, sr=SR).astype(np.float32)
    return Clip("grid", wave, sentence_phones(wave, tsv), None, "en")


def reference(video: Path, tsv: Path) -> dict:
    """The figures of the real GRID video: tracked as it is, phones aligned sentence by sentence from the TSV."""
    from vasa3d.io import read_audio, read_video

    from eval.metrics.mouth import mouth_open
    from eval.tracking import track_video

    frames, fps = read_video(video)
    track = track_video(frames, fps)
    wave = read_audio(video, sr=SR).astype(np.float32)
    return figures(mouth_open(track), track, wave, sentence_phones(wave, tsv))


def mouth_strip(frames: np.ndarray, track, path: Path, start: int = 0, count: int = 24) -> Path:
    """Save a PNG strip of `count` mouth close-ups (frames start.., 2 rows) cut around the tracked lips."""
    from PIL import Image

    lm = track.landmarks
    idx = [t for t in range(start, min(start + count, len(frames)))]
    c = np.nanmedian(lm[idx][:, [13, 14, 61, 291], :2], axis=(0, 1))
    half = int(0.9 * np.nanmedian(np.linalg.norm(lm[idx, 61, :2] - lm[idx, 291, :2], axis=1)))
    y0, x0 = int(c[1]) - half, int(c[0]) - half
    crops = [frames[t, max(0, y0):y0 + 2 * half, max(0, x0):x0 + 2 * half] for t in idx]
    crops = [np.asarray(Image.fromarray(c).resize((128, 128))) for c in crops]
    cols = (len(crops) + 1) // 2
    rows = [np.concatenate(crops[i * cols:(i + 1) * cols] + [np.zeros_like(crops[0])] *
                           (cols - len(crops[i * cols:(i + 1) * cols])), axis=1) for i in range(2)]
    Image.fromarray(np.concatenate(rows, axis=0)).save(path)
    return path


def main(data: Path, portrait: str, size: int, cases: list[str] | None, strip: Path | None,
         with_reference: bool, strip_case: str = "en_synth_text") -> int:
    """Print {case: figures} as JSON (see the module docstring); returns the exit code."""
    from vasa3d.avatar import Avatar

    from eval.metrics.mouth import mouth_open

    avatar = Avatar.from_image(data / "portraits" / portrait)
    clips = {f"{lang}_synth_{cond}": (lambda lang=lang: synthetic_clip(lang), cond)
             for lang in TEXTS for cond in ("text", "blind")}
    clips["jfk_blind"] = (lambda: real_clip(data / "audio" / "a01_en_jfk_inaugural.wav", "en", True), "blind")
    clips["zh_blind"] = (lambda: real_clip(data / "audio" / "a09_zh_aishell_BAC009S0764W0121.wav", "zh", False),
                         "blind")
    clips["grid_blind"] = (lambda: grid_clip(data), "blind")
    held = {f"held_{voice}_{cond}": (lambda voice=voice: synthetic_clip(lang, voice), cond)
            for voice, (lang, _) in HELD_OUT.items() for cond in ("text", "blind")}
    held["held_lj_blind"] = (lambda: real_clip(data / "audio" / "a02_en_ljspeech_LJ001-0001.wav", "en", True),
                             "blind")
    clips.update({name: v for name, v in held.items() if cases and name in cases})
    out, made = {}, {}
    for name, (make, cond) in clips.items():
        if cases and name not in cases:
            continue
        key = name.rsplit("_", 1)[0]
        clip = made.setdefault(key, make())
        frames, track = render_and_track(avatar, _motion(clip, cond), size)
        out[name] = figures(mouth_open(track), track, clip.wave, clip.phones)
        if strip is not None and name == strip_case:
            mouth_strip(frames, track, strip, start=int(0.3 * FPS), count=24)
    if with_reference:
        out["grid_real"] = reference(*_grid_paths(data))
    print(json.dumps({"portrait": portrait, "size": size, "figures": out}, indent=1))
    return 0
