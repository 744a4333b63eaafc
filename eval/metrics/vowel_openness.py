"""vowel_openness: how much more the mouth opens on open vowels than on bilabials.

Definition: with PocketSphinx-aligned phones, O = mean mouth_open over the frames shown within open-vowel phones
(AA, AE, AH, AO, AW, AY), C = mean mouth_open over the frames within P, B, M phones (at least the nearest frame per
phone); vowel_openness = O / max(C, 0.01). The floor 0.01 face heights (about 2 mm, the tracker's noise level on
closed lips) keeps the ratio finite when the lips close fully. Source: this suite's definition, the articulatory
contrast between the open-vowel and bilabial viseme classes (Fisher 1968). Higher is better (real speech scores
about 3-5); a still face scores about 0 (closed) or 1 (open).
"""

from __future__ import annotations

import numpy as np

from eval.metrics import Score
from eval.metrics.mouth import frames_in
from eval.speech import BILABIALS, OPEN_VOWELS, PhoneSpan

CLOSED_FLOOR = 0.01


def _mean_over(mouth: np.ndarray, fps: float, phones: list[PhoneSpan], classes) -> float | None:
    idx = [frames_in(p.start_s, p.end_s, fps, len(mouth)) for p in phones if p.phone in classes]
    if not idx:
        return None
    vals = mouth[np.concatenate(idx)]
    vals = vals[np.isfinite(vals)]
    return float(vals.mean()) if len(vals) else None


def vowel_openness(mouth: np.ndarray, fps: float, phones: list[PhoneSpan] | None,
                   no_phones_reason: str = "no phones") -> Score:
    """O / max(C, 0.01) (see the module docstring). mouth: float [T] (NaN untracked); fps: video rate."""
    if phones is None:
        return Score.null(no_phones_reason)
    o = _mean_over(mouth, fps, phones, OPEN_VOWELS)
    c = _mean_over(mouth, fps, phones, BILABIALS)
    if o is None:
        return Score.null("no open vowel (AA AE AH AO AW AY) within tracked frames")
    if c is None:
        return Score.null("no p/b/m phone within tracked frames")
    return Score.of(o / max(c, CLOSED_FLOOR))
