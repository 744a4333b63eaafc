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
  and jawOpen = 1, in pixels (target: under 2; the rendered upper face is unchanged, so this is tracker noise);

and the single-photo issue's figures:
- overhang: how far the yaw-0 frame reaches past the photo's edges, as a share of its width (`eval.framing`;
  target 0: the view never shows what the photo does not contain);
- id_yaw_m30 / id_yaw_p30: SFace cosine similarity (`eval.metrics.identity`) of the neutral render with the camera
  turned -30 / +30 degrees to the photo (targets: >= 0.72 each, >= 0.78 on average);
- mouth_chroma_excess: the 95th percentile of max(RGB) - min(RGB) inside the posed inner lips at jawOpen = 1 minus
  the photo's own 99th percentile, in 8-bit steps (target: <= 5; a greyscale photo gets a greyscale mouth).

Run: `python -m eval head-check [PORTRAIT ...] [--sheet SHEET.png]` (default: every image in
../shared/data/portraits); prints JSON; `--sheet` also writes a contact sheet, one row per portrait: yaw -30, 0,
+30 with the mouth closed, then the same with jawOpen = 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from eval.tracking import track_image

NOSE_BRIDGE_AND_EYE_CORNERS = (168, 6, 33, 133, 263, 362)
LIDS = ((159, 145), (386, 374))              # subject's right, left eye: mid upper lid, mid lower lid
SIZE = 512
SHEET_TILE = 192
TURN_DEG = 30.0


def head_check(portrait: Path, sheet_rows: list | None = None) -> dict[str, float | None]:
    """The figures above for one portrait (None where the tracker or SFace finds no face in a render); appends its
    contact-sheet row (uint8 [SHEET_TILE, 6 * SHEET_TILE, 3]) to `sheet_rows` when given.

    Raises `vasa3d.errors.InputError` for a photo without a usable face."""
    from vasa3d.avatar import Avatar
    from vasa3d.io.image import read_image

    photo = read_image(portrait)
    avatar = Avatar.from_image(photo)
    out = _tracker_figures(avatar)
    out.update(_single_photo_figures(avatar, (photo * 255 + 0.5).astype(np.uint8), sheet_rows))
    return out


def _tracker_figures(avatar) -> dict[str, float | None]:
    """rest_gap, jaw_gap, blink_ratio, background_in_mouth, drift_px of `avatar` (see the module docstring)."""
    import cv2

    from vasa3d.avatar.view import neutral_pose, render_frame
    from vasa3d.head import topology as topo

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


def _single_photo_figures(avatar, photo_u8: np.ndarray, sheet_rows: list | None) -> dict[str, float | None]:
    """overhang, id_yaw_m30, id_yaw_p30, mouth_chroma_excess of `avatar` built from `photo_u8` [H, W, 3] uint8."""
    import math

    import cv2

    from eval.framing import frame_overhang
    from eval.metrics.identity import embed
    from vasa3d.avatar.view import FrameRenderer, neutral_pose

    renderer = FrameRenderer(avatar, SIZE)
    closed, opened = neutral_pose(), neutral_pose(("jawOpen",), (1.0,))
    yaws = (-TURN_DEG, 0.0, TURN_DEG)
    frames = [renderer.render(p, math.radians(y), 0.0) for p in (closed, opened) for y in yaws]
    reference = embed(photo_u8)
    ids = []
    for frame in (frames[0], frames[2]):
        e = embed(frame) if reference is not None else None
        ids.append(None if e is None else round(float(np.dot(reference, e)), 3))
    overhang = frame_overhang(frames[1], photo_u8)
    if sheet_rows is not None:
        sheet_rows.append(np.concatenate([cv2.resize(f, (SHEET_TILE, SHEET_TILE), interpolation=cv2.INTER_AREA)
                                          for f in frames], axis=1))
    return {"overhang": None if overhang is None else round(overhang, 4), "id_yaw_m30": ids[0],
            "id_yaw_p30": ids[1], "mouth_chroma_excess": round(mouth_chroma_excess(avatar, frames[4], photo_u8), 1)}


def mouth_chroma_excess(avatar, frame_open: np.ndarray, photo_u8: np.ndarray) -> float:
    """The 95th percentile of max(RGB) - min(RGB) (8-bit) over the pixels of `frame_open` (uint8 [SIZE, SIZE, 3],
    the yaw-0 render at jawOpen = 1) inside the posed mesh's inner-lip outline, minus the 99th percentile of the
    same over `photo_u8`."""
    import cv2

    from vasa3d.head import topology as topo
    from vasa3d.render.cameras import scale_intrinsics

    verts = avatar.head.rig.deform(avatar.head.face_rest, ("jawOpen",), np.ones(1, np.float32))
    K = scale_intrinsics(avatar.K, avatar.size, frame_open.shape[0])
    p = (verts @ avatar.T_cam_from_head[:3, :3].T + avatar.T_cam_from_head[:3, 3]) @ K.T
    px = p[:, :2] / p[:, 2:]
    outline = np.concatenate([px[list(topo.LIP_UPPER_INNER)], px[list(topo.LIP_LOWER_INNER[::-1])]])
    inside = np.zeros(frame_open.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(outline).astype(np.int32)], 1)
    chroma = lambda a: a.max(axis=-1).astype(np.float32) - a.min(axis=-1)  # noqa: E731
    if not inside.any():
        return 0.0
    return float(np.percentile(chroma(frame_open[inside > 0]), 95) - np.percentile(chroma(photo_u8), 99))


def main(portraits: list[Path], sheet: Path | None = None) -> int:
    """Print {portrait file name: figures} as JSON for `portraits` and, given `sheet`, write the contact sheet
    there (PNG); returns the exit code."""
    rows: list | None = [] if sheet is not None else None
    out = {p.name: head_check(p, rows) for p in portraits}
    print(json.dumps(out, indent=1))
    if sheet is not None and rows:
        from vasa3d.io.image import write_image

        write_image(sheet, np.concatenate(rows, axis=0))
    return 0
