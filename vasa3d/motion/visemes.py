"""Phones -> mouth coefficients: a viseme table (ARPAbet and espeak phones to articulatory targets) and
coarticulation with dominance functions.

Articulatory parameters (ARTIC, each in [0, 1]): jaw (opening), lip_open (1 = lips follow the jaw, 0 = lips
touching), press, roll_lower, roll_upper, pucker, funnel, stretch, smile, upper_up, lower_down. They map to ARKit
names in `to_arkit`: jawOpen = jaw, mouthClose = jaw * (1 - lip_open) (ARKit's "lips closed while the jaw is
open"), so lip closure holds whatever the jaw does.

Coarticulation follows Cohen & Massaro 1993 ("Modeling coarticulation in synthetic visual speech", in Models and
Techniques in Computer Animation): every segment s has, per parameter group (jaw; lips), a dominance
D_s(t) = alpha_s * exp(-theta_s * d_s(t)) where d_s(t) is the distance in seconds from t to the segment (0 inside
it, a flat-top variant), and each parameter is the dominance-weighted mean of the segments' targets. Bilabials
get a large, sharply falling lip dominance, and a closure constraint (`closure_mask`) makes them reach full
closure, since a weighted mean alone only approaches a target. Consonants other than bilabials dominate the jaw
weakly (the tongue, not the jaw, makes them), so short vowels between them still drop the jaw; the amplitudes
were set against the real GRID video's inner-lip gap statistics (`python -m eval motion-check`: median gap over
speech frames ~0.007 face heights, 90th percentile ~0.055, open-vowel / bilabial gap ratio ~4.4).

Table (targets; unlisted parameters 0, lip_open 1):

| class | phones (ARPAbet / espeak) | targets |
|---|---|---|
| PBM | P B M / p b m | lips closed (lip_open 0), pressed and slightly rolled, jaw 0.03 |
| CL | (acoustic fallback only) | lips closed without press, jaw 0.04 |
| FV | F V / f v | lower lip tucked (roll_lower 0.5, upper_up 0.25), lips almost closed |
| TH | TH DH / T D | jaw 0.06, lips slightly apart |
| TDNL | T D N L / t d n l | jaw 0.05, neutral lips, weak jaw and lip dominance |
| SZ | S Z / s z | jaw nearly closed, lips apart and spread (teeth visible) |
| SH | SH ZH CH JH / S Z tS dZ | funnel 0.45, pucker 0.25, lips apart |
| KG | K G NG HH / k g N h x ? | jaw 0.07 (HH 0.12), weak dominance (takes the neighbours' shape) |
| Y | Y / j | spread lips |
| R | R / r | slight pucker and funnel |
| W | W / w | pucker 0.6, funnel 0.3, small lip opening |
| open vowels | AA AE AH AO / A: a aa V @ O: 0 | jaw 0.48-0.68, strong jaw dominance (+ stretch for AE, funnel for AO) |
| mid/close vowels | EH IH IY / E e I i: | jaw 0.12-0.34 with stretch (up to 0.5) and smile |
| rounded vowels | UH UW OW ER / U u: oU 3: 2 9 y | pucker (up to 0.9) and funnel, jaw 0.12-0.34 |
| diphthongs | AY AW EY OY OW / aI aU eI OI oU | split 60/40 into their two vowel targets |
| sil | SIL sp _ | everything 0 (rest) |
"""

from __future__ import annotations

import re

import numpy as np

from vasa3d.motion.phones import Phone

ARTIC: tuple[str, ...] = ("jaw", "lip_open", "press", "roll_lower", "roll_upper", "pucker", "funnel", "stretch",
                          "smile", "upper_up", "lower_down")
_A = {n: i for i, n in enumerate(ARTIC)}

# class: (targets, alpha_jaw, alpha_lips, theta 1/s)
VISEMES: dict[str, tuple[dict[str, float], float, float, float]] = {
    "sil": ({"jaw": 0.0}, 1.0, 0.5, 20.0),
    "PBM": ({"jaw": 0.03, "lip_open": 0.0, "press": 0.5, "roll_lower": 0.15, "roll_upper": 0.15}, 8.0, 25.0, 60.0),
    "CL": ({"jaw": 0.04, "lip_open": 0.0}, 6.0, 25.0, 60.0),
    "FV": ({"jaw": 0.08, "lip_open": 0.3, "roll_lower": 0.5, "upper_up": 0.25}, 1.0, 8.0, 45.0),
    "TH": ({"jaw": 0.06, "lower_down": 0.1, "upper_up": 0.05}, 0.6, 1.5, 30.0),
    "TDNL": ({"jaw": 0.05, "lower_down": 0.04, "stretch": 0.1}, 0.6, 0.6, 25.0),
    "SZ": ({"jaw": 0.03, "stretch": 0.25, "smile": 0.1, "lower_down": 0.06, "upper_up": 0.06}, 1.2, 1.2, 30.0),
    "SH": ({"jaw": 0.05, "funnel": 0.5, "pucker": 0.3, "upper_up": 0.1, "lower_down": 0.08}, 1.5, 3.0, 25.0),
    "KG": ({"jaw": 0.07}, 0.6, 0.3, 20.0),
    "HH": ({"jaw": 0.12}, 0.3, 0.2, 20.0),
    "Y": ({"jaw": 0.05, "stretch": 0.35, "smile": 0.15}, 1.0, 1.0, 25.0),
    "R": ({"jaw": 0.06, "pucker": 0.4, "funnel": 0.3}, 1.0, 1.5, 25.0),
    "W": ({"jaw": 0.05, "lip_open": 0.6, "pucker": 0.6, "funnel": 0.3}, 1.0, 3.0, 25.0),
    "ER": ({"jaw": 0.18, "pucker": 0.25, "funnel": 0.3}, 1.2, 1.0, 15.0),
    "AA": ({"jaw": 0.68, "lower_down": 0.3, "upper_up": 0.08}, 2.5, 1.0, 15.0),
    "AE": ({"jaw": 0.55, "stretch": 0.3, "lower_down": 0.35, "upper_up": 0.15}, 2.5, 1.0, 15.0),
    "AH": ({"jaw": 0.48, "lower_down": 0.25}, 2.5, 1.0, 15.0),
    "AO": ({"jaw": 0.55, "funnel": 0.45, "pucker": 0.15, "lower_down": 0.2}, 2.5, 1.0, 15.0),
    "EH": ({"jaw": 0.34, "stretch": 0.3, "lower_down": 0.2, "upper_up": 0.1}, 2.0, 1.0, 15.0),
    "IH": ({"jaw": 0.2, "stretch": 0.35, "smile": 0.15, "lower_down": 0.1, "upper_up": 0.1}, 1.5, 1.0, 15.0),
    "IY": ({"jaw": 0.12, "stretch": 0.5, "smile": 0.3, "upper_up": 0.1, "lower_down": 0.05}, 1.5, 1.2, 15.0),
    "UH": ({"jaw": 0.2, "pucker": 0.5, "funnel": 0.35}, 1.5, 1.5, 15.0),
    "UW": ({"jaw": 0.12, "lip_open": 0.7, "pucker": 0.9, "funnel": 0.45}, 1.5, 2.5, 15.0),
    "OW": ({"jaw": 0.34, "funnel": 0.6, "pucker": 0.45}, 2.0, 1.5, 15.0),
}
OPEN_VOWELS = ("AA", "AE", "AH", "AO")
CLOSURES = ("PBM", "CL")
"""Classes whose lips must close fully (see `closure_mask`)."""

_ARPABET_CLASS = {
    "P": "PBM", "B": "PBM", "M": "PBM", "F": "FV", "V": "FV", "TH": "TH", "DH": "TH", "T": "TDNL", "D": "TDNL",
    "N": "TDNL", "L": "TDNL", "S": "SZ", "Z": "SZ", "SH": "SH", "ZH": "SH", "CH": "SH", "JH": "SH", "K": "KG",
    "G": "KG", "NG": "KG", "HH": "HH", "Y": "Y", "R": "R", "W": "W", "ER": "ER", "AA": "AA", "AE": "AE",
    "AH": "AH", "AO": "AO", "EH": "EH", "IH": "IH", "IY": "IY", "UH": "UH", "UW": "UW", "OW": "OW",
    "AY": ("AA", "IY"), "AW": ("AA", "UW"), "EY": ("EH", "IY"), "OY": ("AO", "IY"),
    "AX": "AH", "AXR": "ER", "IX": "IH", "UX": "UW", "DX": "TDNL", "NX": "TDNL", "EL": "TDNL", "EM": "PBM",
    "EN": "TDNL", "Q": "KG", "WH": "W", "SIL": "sil", "SP": "sil", "SPN": "sil", "PAU": "sil", "<SIL>": "sil",
}
"""ARPAbet (CMU dictionary, PocketSphinx, TIMIT extras) -> viseme class; a pair is a diphthong."""

_ESPEAK_TO_ARPABET = {
    "p": "P", "b": "B", "m": "M", "m-": "M", "f": "F", "v": "V", "T": "TH", "D": "DH", "s": "S", "z": "Z",
    "S": "SH", "Z": "ZH", "tS": "CH", "dZ": "JH", "t": "T", "t#": "T", "d": "D", "d#": "D", "n": "N",
    "n-": "N", "l": "L", "l-": "L", "@L": "L", "L": "L", "r": "R", "r-": "R", "j": "Y", "J": "Y", "w": "W",
    "W": "W", "h": "HH", "x": "HH", "C": "HH", "k": "K", "g": "G", "N": "NG", "?": "Q",
    "@": "AH", "@2": "AH", "@5": "AH", "@-": "AH", "a#": "AH", "V": "AH", "3": "ER", "3:": "ER", "a": "AE",
    "aa": "AE", "A:": "AA", "A@": "AA", "A": "AA", "0": "AA", "E": "EH", "e": "EH", "e@": "EH", "eI": "EY",
    "I": "IH", "I2": "IH", "I#": "IH", "i": "IY", "i:": "IY", "i@": "IY", "i@3": "IY", "O": "AO", "O:": "AO",
    "O@": "AO", "o@": "AO", "oU": "OW", "o": "OW", "OI": "OY", "u:": "UW", "u": "UW", "U": "UH", "U@": "UH",
    "aI": "AY", "aI@": "AY", "aU": "AW", "aU@": "AW", "y": "UW", "Y": "UW", "2": "UH", "9": "UH",
}
"""espeak-ng phoneme mnemonics (English set; other languages fall back by their first letter) -> ARPAbet."""

_STRESS = re.compile(r"[',%=;\s]")


def detect_alphabet(symbols) -> str:
    """"espeak" if any symbol has a lower-case letter or an espeak-only character (@ : # 3 0), else "arpabet"."""
    for s in symbols:
        s = _STRESS.sub("", str(s))
        if s.upper() in ("SIL", "SP", "SPN", "PAU", "<SIL>"):
            continue
        if re.search(r"[a-z@:#?]|^[0-9]", s):
            return "espeak"
    return "arpabet"


def viseme_of(phone: str, alphabet: str = "arpabet") -> str | tuple[str, str]:
    """Viseme class (or a diphthong pair of classes) of one phone symbol; unknown symbols -> "KG" (neutral,
    weak dominance); pauses ("_", "SIL", "") -> "sil"; a class name itself (e.g. "CL") maps to that class."""
    if phone in VISEMES:
        return phone
    s = _STRESS.sub("", str(phone))
    if not s and str(phone).strip():
        return "KG"  # espeak's ";" linking glide and the like: neutral
    if not s or s.startswith("_") or s.upper() in ("SIL", "SP", "SPN", "PAU", "<SIL>") or s.startswith("+"):
        return "sil"
    if alphabet == "espeak":
        arpa = _ESPEAK_TO_ARPABET.get(s) or _ESPEAK_TO_ARPABET.get(re.sub(r"[0-9#:\-]+$", "", s)) \
            or _ESPEAK_TO_ARPABET.get(s[:2]) or _ESPEAK_TO_ARPABET.get(s[0])
        return _ARPABET_CLASS.get(arpa, "KG") if arpa else "KG"
    return _ARPABET_CLASS.get(re.sub(r"[0-2]$", "", s.upper()), "KG")


def viseme_segments(phones: list[Phone], alphabet: str | None = None) -> list[tuple[float, float, str]]:
    """[(start_s, end_s, class), ...]: phones mapped to viseme classes, diphthongs split 60/40."""
    alphabet = alphabet or detect_alphabet(p.phone for p in phones)
    out = []
    for p in phones:
        v = viseme_of(p.phone, alphabet)
        if isinstance(v, tuple):
            mid = p.start_s + 0.6 * (p.end_s - p.start_s)
            out += [(p.start_s, mid, v[0]), (mid, p.end_s, v[1])]
        else:
            out.append((p.start_s, p.end_s, v))
    return out


def _target(cls: str) -> np.ndarray:
    t = np.zeros(len(ARTIC))
    t[_A["lip_open"]] = 1.0
    for k, v in VISEMES[cls][0].items():
        t[_A[k]] = v
    return t


CLOSURE_RAMP_S = 0.03
"""Bilabial closures open (and close) over this long outside the segment (see `closure_mask`)."""


def coarticulate(segments: list[tuple[float, float, str]], times_s: np.ndarray) -> np.ndarray:
    """Articulatory trajectories [F, len(ARTIC)] float64 at times_s [F] (seconds, sorted, uniform) by dominance-
    weighted blending of the segments' viseme targets (Cohen & Massaro 1993, flat-top variant, see module doc).

    Times far (> 0.6 s) from every segment get the rest pose. lip_open is then forced to 0 inside bilabials
    (`closure_mask`), and so are lower_down and upper_up (which part the lips too).
    """
    n = len(times_s)
    num = np.zeros((n, len(ARTIC)))
    den = np.full((n, len(ARTIC)), 1e-6)
    rest = _target("sil")
    num += den * rest
    dt = float(times_s[1] - times_s[0]) if n > 1 else 0.01
    is_jaw = np.zeros(len(ARTIC), bool)
    is_jaw[_A["jaw"]] = True
    for start, end, cls in segments:
        _, a_jaw, a_lips, theta = VISEMES[cls]
        lo = max(0, int(np.floor((start - 0.6 - times_s[0]) / dt)))
        hi = min(n, int(np.ceil((end + 0.6 - times_s[0]) / dt)) + 1)
        if hi <= lo:
            continue
        t = times_s[lo:hi]
        dist = np.maximum(0.0, np.maximum(start - t, t - end))
        d = np.exp(-theta * dist)[:, None] * np.where(is_jaw, a_jaw, a_lips)[None, :]
        num[lo:hi] += d * _target(cls)[None, :]
        den[lo:hi] += d
    out = num / den
    open_lips = [_A["lip_open"], _A["lower_down"], _A["upper_up"]]     # each parts the lips
    out[:, open_lips] *= 1.0 - closure_mask(segments, times_s)[:, None]
    return out


def closure_mask(segments: list[tuple[float, float, str]], times_s: np.ndarray) -> np.ndarray:
    """[F] float64 in [0, 1]: 1 inside every closure (PBM, CL) segment, falling to 0 over CLOSURE_RAMP_S outside
    it with a raised cosine. The weighted mean of Cohen & Massaro only approaches a target, so coarticulate()
    multiplies lip_open by (1 - mask) to make every bilabial reach full closure, released smoothly."""
    mask = np.zeros(len(times_s))
    for start, end, cls in segments:
        if cls not in CLOSURES:
            continue
        dist = np.maximum(0.0, np.maximum(start - times_s, times_s - end))
        mask = np.maximum(mask, 0.5 + 0.5 * np.cos(np.pi * np.clip(dist / CLOSURE_RAMP_S, 0.0, 1.0)))
    return mask


CLOSURE_LIP_OPEN = 0.2
"""A frame whose interval contains lip_open below this shows that closure instant (see `frame_pool`)."""


def frame_pool(times_s: np.ndarray, artic: np.ndarray, frame_times_s: np.ndarray, fps: float) -> np.ndarray:
    """Downsample artic [F, P] at times_s to frames [T, P]: the mean over each frame's interval
    [t - 0.5/fps, t + 0.5/fps] (anti-aliasing), except that a frame whose interval contains a lip closure
    (lip_open < CLOSURE_LIP_OPEN) takes all parameters at the instant of least lip_open, so that a closure
    shorter than a frame still shows, fully, on the nearest frame."""
    dt = float(times_s[1] - times_s[0]) if len(times_s) > 1 else 0.01
    half = max(1, int(round(0.5 / fps / dt)))
    idx = np.clip(np.round((frame_times_s - times_s[0]) / dt).astype(int), 0, len(times_s) - 1)
    offs = np.arange(-half, half + 1)
    win = np.clip(idx[:, None] + offs[None, :], 0, len(times_s) - 1)      # [T, W]
    out = artic[win].mean(axis=1)
    lip = artic[win, _A["lip_open"]]
    k = lip.argmin(axis=1)
    closed = lip[np.arange(len(win)), k] < CLOSURE_LIP_OPEN
    out[closed] = artic[win[closed, k[closed]]]
    return out


def to_arkit(artic: np.ndarray) -> dict[str, np.ndarray]:
    """Articulatory parameters [T, P] -> {ARKit name: [T] float32 in [0, 1]} (left/right symmetric)."""
    a = np.clip(artic, 0.0, 1.0)
    jaw, lip = a[:, _A["jaw"]], a[:, _A["lip_open"]]
    out = {"jawOpen": jaw, "mouthClose": jaw * (1.0 - lip), "mouthFunnel": a[:, _A["funnel"]],
           "mouthPucker": a[:, _A["pucker"]], "mouthRollLower": a[:, _A["roll_lower"]],
           "mouthRollUpper": a[:, _A["roll_upper"]]}
    for side in ("Left", "Right"):
        out[f"mouthPress{side}"] = a[:, _A["press"]]
        out[f"mouthStretch{side}"] = a[:, _A["stretch"]]
        out[f"mouthSmile{side}"] = a[:, _A["smile"]]
        out[f"mouthUpperUp{side}"] = a[:, _A["upper_up"]]
        out[f"mouthLowerDown{side}"] = a[:, _A["lower_down"]]
    return {k: v.astype(np.float32) for k, v in out.items()}


def lip_gap(motion) -> np.ndarray:
    """[T] float32 lip gap of a MotionSequence (see `lip_opening`); 0 = lips touching."""
    return lip_opening(motion.coeff("jawOpen"), motion.coeff("mouthClose"), motion.coeff("mouthLowerDownLeft"),
                       motion.coeff("mouthUpperUpLeft"))


def lip_opening(jaw_open: np.ndarray, mouth_close: np.ndarray, lower_down: np.ndarray | None = None,
                upper_up: np.ndarray | None = None) -> np.ndarray:
    """Vertical lip gap [T] in ARKit units: jawOpen - mouthClose plus half of mouthLowerDown + mouthUpperUp.

    0 means the lips touch (a bilabial closure or the closed rest pose); the motion model's closure measure.
    """
    gap = np.clip(np.asarray(jaw_open, np.float64) - mouth_close, 0.0, None)
    if lower_down is not None:
        gap = gap + 0.5 * np.asarray(lower_down)
    if upper_up is not None:
        gap = gap + 0.5 * np.asarray(upper_up)
    return gap.astype(np.float32)
