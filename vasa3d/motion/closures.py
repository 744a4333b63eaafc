"""Lip closures from acoustic evidence, to correct recognised phones when there is no transcript.

Phone recognition without text (`vasa3d.motion.phones.recognize_phones`) finds most consonants but often gets their
place wrong (a /b/ heard as /g/ or /n/), and the mouth then stays open on a bilabial. The acoustics show where the
vocal tract closes, whatever the language:
- a stop closure: a short stretch (20-250 ms) at least `STOP_DIP_DB` quieter than the speech on both sides
  within 150 ms, without fricative noise (its 3-7 kHz band does not dominate);
- a nasal murmur: voiced, but at least `NASAL_DIP_DB` quieter than the neighbouring vowels, with its energy in
  the low band (80-400 Hz at least `NASAL_LOW_DB` above the 0.8-2.5 and 3-7 kHz bands together: the oral tract is
  closed, the sound leaves through the nose; Fujimura 1962, "Analysis of nasal consonants", JASA 34).
Acoustics alone do not tell a bilabial from an alveolar or velar closure reliably, so an evidence span becomes a
lip closure ("PBM" or "CL", see `add_closures`) when the recogniser heard a labial there, when it is a nasal
murmur, or when the recogniser heard a stop or nasal there and the release has no strong high-frequency burst
(alveolar and velar voiceless bursts are strong above 3 kHz, bilabial ones weak and low; Stevens & Blumstein 1978,
"Invariant cues for place of articulation in stop consonants", JASA 64). `is_lip_closure` has the rule; FACTS.md
the alternatives measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from vasa3d.motion.features import FEATURE_SR, HOP_S, WIN_S, AudioFeatures, frame_signal, true_runs
from vasa3d.motion.phones import Phone

STOP_DIP_DB = 15.0
"""A stop closure is at least this many dB below the loudest speech within SIDE_S on each side."""
FRICATIVE_HIGH_DB = 0.0
"""A quiet stretch whose 3-7 kHz band is above its 80-400 plus 800-2500 Hz bands by more than this is a fricative,
not a closure."""
WEAK_DIP_DB = 8.0
"""A weaker dip (at least this many dB, not fricative noise, not a stop or murmur by the rules above) counts only
where the recogniser heard a labial over it: two weak cues that agree (a bilabial nasal or a lenited stop that
neither rule alone catches)."""
NASAL_DIP_DB = 5.0
"""A nasal murmur is at least this many dB below the loudest speech within SIDE_S on each side."""
NASAL_LOW_DB = 14.0
"""A nasal murmur's 80-400 Hz band is at least this many dB above its 0.8-2.5 plus 3-7 kHz bands."""
BURST_HIGH_DB = -2.0
"""A release (the 30 ms after a stop closure) whose 3-7 kHz band comes within this many dB of its 80-400 plus
800-2500 Hz bands, or above them, is an alveolar or velar burst."""
RELEASE_S = 0.025
"""A stop or weak-dip closure phone lasts this long past its evidence span: the span ends where the level comes
back within the dip threshold of the speech around it, but the lips part at the release, as the level rises through
it; without this the mouth shows the closure too short (and, with the visual lead, too early). A nasal murmur's
span already ends at the release (the level and spectrum jump as the mouth opens) and is not extended."""
SIDE_S = 0.15
"""How far each side of a frame the louder speech of a closure is looked for, seconds."""
MIN_SPAN_S, MAX_SPAN_S = 0.02, 0.25
"""Shortest and longest closure or murmur, seconds (longer quiet stretches are pauses)."""
LABIAL = frozenset({"P", "B", "M", "F", "V", "W"})
STOP_OR_NASAL = frozenset({"P", "B", "M", "T", "D", "K", "G", "N", "NG"})


@dataclass(frozen=True)
class Evidence:
    """One closure seen in the audio: start_s, end_s (s); kind "stop", "nasal" or "weak"; burst_high: the release's
    3-7 kHz level relative to 80-2500 Hz, dB (stops only; -inf for nasals or no release)."""

    start_s: float
    end_s: float
    kind: Literal["stop", "nasal", "weak"]
    burst_high: float


def band_levels(x16: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Band energies in dB [F] each (low 80-400 Hz, mid 800-2500 Hz, high 3-7 kHz) of 16 kHz audio [S] on the
    `vasa3d.motion.features` frame grid (25 ms Hann windows, 10 ms hop)."""
    win, hop = int(WIN_S * FEATURE_SR), int(HOP_S * FEATURE_SR)
    frames = frame_signal(np.asarray(x16, np.float32), win, hop)
    spec = np.abs(np.fft.rfft(frames * np.hanning(win), n=512, axis=1)) ** 2
    f = np.fft.rfftfreq(512, 1.0 / FEATURE_SR)
    level = lambda a, b: 10.0 * np.log10(spec[:, (f >= a) & (f < b)].sum(1) + 1e-10)  # noqa: E731
    return level(80, 400), level(800, 2500), level(3000, 7000)


def level_dip(level_db: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """[F] float64: how many dB each frame of level_db [F] is below the loudest speech frame (speech [F] bool)
    within SIDE_S before it and within SIDE_S after it (the smaller of the two; very large where no speech is near
    on one side, <= 0 at a local maximum)."""
    from scipy.ndimage import maximum_filter1d

    side = int(round(SIDE_S / HOP_S))
    level = np.where(speech, np.asarray(level_db, np.float64), -1e9)
    before = maximum_filter1d(level, side + 1, origin=side // 2)       # max over [j - side, j]
    after = maximum_filter1d(level, side + 1, origin=-(side // 2))     # max over [j, j + side]
    return np.minimum(before, after) - level_db


def _db_sum(*levels_db: np.ndarray) -> np.ndarray:
    """Level in dB of the sum of the powers given in dB."""
    return 10.0 * np.log10(sum(10.0 ** (lv / 10.0) for lv in levels_db))


def closure_evidence(x16: np.ndarray, features: AudioFeatures) -> list[Evidence]:
    """Stop closures and nasal murmurs in 16 kHz speech x16 [S] float32 with its `features` (see the module
    docstring), in time order."""
    low, mid, high = band_levels(x16)
    n = min(len(low), len(features.rms_db))
    low, mid, high = low[:n], mid[:n], high[:n]
    speech = features.openness[:n] > 0
    dip = level_dip(features.rms_db[:n], speech)
    oral = _db_sum(low, mid)
    stop = (dip >= STOP_DIP_DB) & ~((high - oral > FRICATIVE_HIGH_DB) & speech)
    nasal = speech & ~stop & (dip >= NASAL_DIP_DB) & (low - _db_sum(mid, high) >= NASAL_LOW_DB)
    weak = ~stop & ~nasal & (dip >= WEAK_DIP_DB) & (high - oral <= FRICATIVE_HIGH_DB)
    out = []
    lo_n, hi_n = int(round(MIN_SPAN_S / HOP_S)), int(round(MAX_SPAN_S / HOP_S))
    for kind, mask in (("stop", stop), ("nasal", nasal), ("weak", weak)):
        for a, b in true_runs(mask):
            if not lo_n <= b - a <= hi_n:
                continue
            burst = -np.inf
            if kind == "stop" and b < n:
                rel = slice(b, min(n, b + int(round(0.03 / HOP_S))))
                burst = float(np.max(high[rel] - oral[rel]))
            out.append(Evidence(a * HOP_S, b * HOP_S, kind, burst))
    return sorted(out, key=lambda e: e.start_s)


def is_lip_closure(ev: Evidence, heard: set[str]) -> bool:
    """Whether evidence `ev` shows closed lips, given the ARPAbet phones recognised over it (`heard`): when a labial
    was heard; for any nasal murmur (m and n close the mouth alike on a tracker: the real GRID speaker's lips read
    closed on 84% of his /n/); for a stop when a stop or nasal was heard and its release has no strong high-frequency
    burst (t, k); for a weak dip only when a labial was heard."""
    if ev.kind == "weak":
        return bool(heard & LABIAL)
    if heard & LABIAL or ev.kind == "nasal":
        return True
    return bool(heard & STOP_OR_NASAL) and ev.burst_high < BURST_HIGH_DB


def add_closures(phones: list[Phone], evidence: list[Evidence], tolerance_s: float = 0.04) -> list[Phone]:
    """phones (time-sorted, not overlapping, as recognised) plus a lip closure over every evidence span that
    `is_lip_closure` accepts (stops and weak dips extended by RELEASE_S), judged by the phones within tolerance_s
    of it; time-sorted. The closure is the viseme class "PBM" (lips closed and pressed, `vasa3d.motion.visemes`)
    where a labial was heard over it or the evidence is a stop or weak dip: the lips press together, which also
    seals the mouth of an avatar whose photo shows the lips slightly parted (its rest pose; without the press its
    closures read open). A nasal murmur with no labial heard, often /n/ or /ŋ/ (Mandarin codas), is "CL": lips
    closed without press. Measured in FACTS.md (unseen voices and portraits)."""
    starts = np.array([p.start_s for p in phones])
    ends = np.array([p.end_s for p in phones])
    extra = []
    for ev in evidence:
        lo = int(np.searchsorted(ends, ev.start_s - tolerance_s, side="right"))
        hi = int(np.searchsorted(starts, ev.end_s + tolerance_s, side="left"))
        heard = {p.phone.rstrip("012").upper() for p in phones[lo:hi]}
        if is_lip_closure(ev, heard):
            extra.append(Phone(ev.start_s, ev.end_s + (0.0 if ev.kind == "nasal" else RELEASE_S),
                               "PBM" if heard & LABIAL or ev.kind != "nasal" else "CL"))
    return sorted(phones + extra, key=lambda p: p.start_s)
