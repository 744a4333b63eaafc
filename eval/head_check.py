"""The head model's acceptance figures, measured by an independent tracker on renders (issue "The head model").

For each portrait: build the avatar, render it at 512x512 at rest, with jawOpen = 1, with both eyeBlinks = 1 and
with jawOpen = 1 over pure green, and track each render with MediaPipe Face Mesh (static mode, `eval.tracking`):

- rest_gap / jaw_gap: inner-lip gap (landmark 14 minus 13, vertical) over the face height (152 to 10), at rest
  and at jawOpen = 1 (target: about 0 and at least 0.12);
- blink_ratio: per eye (159/145 and 386/374), the vertical lid gap closed over open; the larger of the two eyes
  (target: at most 0.25);
- background_in_mouth: share of the pixels inside the tracker's inner-lip outline that show the green background
  at jawOpen = 1 (target: under 0.01);
- drift_px: largest movement of the nose-bridge and eye-corner landmarks (168, 6, 33, 133, 263, 362) between rest
  and jawOpen = 1, in pixels (target: under 2; the rendered upper face is unchanged, so this is tracker noise).

Run: `python -m eval head-check [PORTRAIT ...]` (default: every image in ../shared/data/portraits); prints JSON.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from eval.tracking import track_image

NOSE_BRIDGE_AND_EYE_CORNERS = (168, 6, 33, 133, 263, 362)
LIDS = ((159, 145), (386, 374))              # subject's right, left eye: mid upper lid, mid lower lid
SIZE = 512


def head_check(portrait: Path) -> dict[str, float | None]:
    """The figures above for one portrait (None where the tracker finds no face in a render).

    Raises `vasa3d.errors.InputError` for a photo without a usable face."""
    import cv2

    from vasa3d.avatar import Avatar
    from vasa3d.avatar.view import neutral_pose, render_frame
    from vasa3d.head import topology as topo

    avatar = Avatar.from_image(portrait)
    render = lambda names=(), coeffs=(), background=None: render_frame(  # noqa: E731
        avatar, neutral_pose(names, coeffs), 0.0, 0.0, SIZE, background=background)
    rest, jaw = track_image(render()), track_image(render(("jawOpen",), (1.0,)))
    blink = track_image(render(("eyeBlinkLeft", "eyeBlinkRight"), (1.0, 1.0)))
    green = render(("jawOpen",), (1.0,), (0.0, 1.0, 0.0))
    if rest is None or jaw is None or blink is None:
        return {"rest_gap": None, "jaw_gap": None, "blink_ratio": None, "background_in_mouth": None, "drift_px": None}
    face_h = float(np.linalg.norm(rest[152, :2] - rest[10, :2]))
    gap = lambda lm: float(lm[14, 1] - lm[13, 1]) / face_h  # noqa: E731
    ratio = max(float((blink[lo, 1] - blink[up, 1]) / (rest[lo, 1] - rest[up, 1])) for up, lo in LIDS)
    outline = np.concatenate([jaw[list(topo.LIP_UPPER_INNER), :2], jaw[list(topo.LIP_LOWER_INNER[::-1]), :2]])
    inside = np.zeros(green.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(outline).astype(np.int32)], 1)
    px = green.astype(np.int32)[inside > 0]
    shows = (px[:, 1] > 200) & (px[:, 0] < 40) & (px[:, 2] < 40)
    ids = list(NOSE_BRIDGE_AND_EYE_CORNERS)
    drift = float(np.linalg.norm(jaw[ids, :2] - rest[ids, :2], axis=1).max())
    return {"rest_gap": round(gap(rest), 4), "jaw_gap": round(gap(jaw), 4), "blink_ratio": round(ratio, 3),
            "background_in_mouth": round(float(shows.mean()) if len(px) else 1.0, 4), "drift_px": round(drift, 2)}


def main(portraits: list[Path]) -> int:
    """Print {portrait file name: figures} as JSON for `portraits`; returns the exit code."""
    out = {p.name: head_check(p) for p in portraits}
    print(json.dumps(out, indent=1))
    return 0
