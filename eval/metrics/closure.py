"""closure_rate: do the lips close for the bilabial consonants /p/, /b/, /m/?

Definition: phones come from PocketSphinx forced alignment of the transcript (`eval.speech.align_phones`). For each
aligned P, B or M phone take the frames shown within [start - 40 ms, end + 40 ms] (at least the nearest frame); the
phone counts as closed when min mouth_open over those frames < `CLOSED_THRESHOLD` = 0.015 face heights (about
2.8 mm on an adult face; real closed lips read 0.000-0.004 with this tracker, open vowels 0.02-0.06).
closure_rate = closed phones / bilabial phones that fall within tracked frames. The +-40 ms tolerance absorbs
alignment error (median 11-15 ms, FACTS.md) and one frame at 25 fps.
Source: this suite's definition of the bilabial-closure check (p, b, m form one viseme class that is always
produced with closed lips; Fisher 1968, "Confusions among visually perceived consonants"). Higher is better
(ground truth ~1.0). A mouth that never moves scores 1.0 if it is closed and 0.0 if it is open, so read it
together with vowel_openness.
"""

from __future__ import annotations

import numpy as np

from eval.metrics import Score
from eval.metrics.mouth import frames_in
from eval.speech import BILABIALS, PhoneSpan

CLOSED_THRESHOLD = 0.015
TOLERANCE_S = 0.04


def closure_rate(mouth: np.ndarray, fps: float, phones: list[PhoneSpan] | None, no_phones_reason: str = "no phones"
                 ) -> Score:
    """Share of bilabial phones with closed lips. mouth: float [T] mouth_open (NaN untracked); fps: video rate."""
    if phones is None:
        return Score.null(no_phones_reason)
    closed, total = 0, 0
    for p in phones:
        if p.phone not in BILABIALS:
            continue
        idx = frames_in(p.start_s - TOLERANCE_S, p.end_s + TOLERANCE_S, fps, len(mouth))
        vals = mouth[idx]
        vals = vals[np.isfinite(vals)]
        if len(vals) == 0:
            continue
        total += 1
        closed += int(vals.min() < CLOSED_THRESHOLD)
    if total == 0:
        return Score.null("no p/b/m phone in the transcript (or none within tracked frames)")
    return Score.of(closed / total)
