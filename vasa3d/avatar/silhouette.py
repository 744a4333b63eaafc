"""The person's outline in the photo, measured for the head model's volumes: the head's silhouette profile about the
skull centre (hair, ears) and the shoulders' half-width. The image side of `vasa3d.head.volume` (the head package
holds no image data). Head frame, metres; pixels of the observation's square crop.
"""

from __future__ import annotations

import numpy as np

from vasa3d.avatar.lift import Camera
from vasa3d.face.analysis import FaceObservation
from vasa3d.head.model import HeadModel
from vasa3d.head.volume import NUM_AZIMUTHS, HeadVolume, TorsoBody, azimuths, circular_smooth, ellipse_radius

MASK_LEVEL = 0.5            # person-mask probability above which a pixel is the person
INSET = 0.02                # the volume's outline lies this share of the crop inside the mask's edge, so the
                            # completed back stays behind the photo's opaque pixels (not in their soft fringe)
MASK_CLOSE_PX = 5           # gaps in the mask narrower than this (stray hairs, a thin background gap) are closed
MARCH_STEP_PX = 0.5
TORSO_BELOW = 0.3                     # the torso reaches this share of the crop's height below the photo's view
SHOULDER_HALF_WIDTH_M = (0.12, 0.3)   # the measured shoulders' half-width is kept in this range
SHOULDER_ROWS_BELOW_JAW_M = 0.06      # shoulders are measured on the mask's rows this far below the jaw line
PROFILE_SMOOTH_RAD = 0.05   # the profile is averaged over this half-window after a median over 3x that


def view_from_head(cam: Camera) -> np.ndarray:
    """float32 [3, 3] rows: the photo's right, up and towards-the-camera directions in the head frame."""
    return (np.diag([1.0, -1.0, -1.0]) @ cam.R).astype(np.float32)


def head_volume(obs: FaceObservation, head: HeadModel, cam: Camera | None = None) -> HeadVolume:
    """The `HeadVolume` of the person's head and hair in the photo `obs` (its camera `cam`), about `head`'s skull.

    Method: from the skull centre's image, march outwards along `NUM_AZIMUTHS` directions through the closed person
    mask to its first edge, stopping at the jaw line's height (below it the mask is neck and body); where the march
    leaves the crop first (a head cut off by the frame) the skull's outline is a floor. Median then mean filtered
    over the azimuths, in metres at the centre's depth.
    """
    import cv2
    import scipy.ndimage as ndi

    cam = cam or Camera(obs)
    view = view_from_head(cam)
    centre = head.shell_centre.astype(np.float64)
    z_c = float((cam.R @ centre + cam.t)[2])
    m_per_px = z_c / cam.focal
    u0, v0 = cam.project(centre[None])[0]
    mask = (obs.mask > MASK_LEVEL).astype(np.uint8)
    mask = ndi.binary_fill_holes(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((MASK_CLOSE_PX,) * 2, np.uint8)))
    S = obs.size
    alpha = azimuths(NUM_AZIMUTHS)
    r = np.arange(0.0, 2.0 * S, MARCH_STEP_PX)
    x = u0 + r[None] * np.cos(alpha)[:, None]                   # [A, R] pixel columns (image y points down)
    y = v0 - r[None] * np.sin(alpha)[:, None]
    inside_crop = (x >= 0) & (x < S) & (y >= 0) & (y < S)
    on_person = np.zeros_like(inside_crop)
    on_person[inside_crop] = mask[y[inside_crop].astype(int), x[inside_crop].astype(int)]
    height = centre[1] + m_per_px * (r[None] * np.cos(alpha)[:, None] * view[0, 1] + r[None] *
                                     np.sin(alpha)[:, None] * view[1, 1])
    above = height > head.jaw_line_y
    stop = ~(on_person & above)
    first = np.argmax(stop, axis=1)                             # first step off the head (there always is one)
    lateral = np.maximum(r[first] - INSET * S, 0.0) * m_per_px
    cut = ~inside_crop[np.arange(NUM_AZIMUTHS), first] & above[np.arange(NUM_AZIMUTHS), first]
    skull = ellipse_radius(alpha, float(head.shell_radii[0]), float(head.shell_radii[1]))
    lateral = np.where(cut, np.maximum(lateral, skull), lateral)
    h = max(1, int(round(3 * PROFILE_SMOOTH_RAD / (2 * np.pi) * NUM_AZIMUTHS)))
    lateral = ndi.median_filter(lateral, size=2 * h + 1, mode="wrap")
    lateral = circular_smooth(lateral, PROFILE_SMOOTH_RAD)
    return HeadVolume.from_silhouette(centre, view, head.shell_radii, lateral)


def torso_body(obs: FaceObservation, head: HeadModel, cam: Camera | None = None) -> TorsoBody:
    """The `TorsoBody` of the person in the photo `obs`: as wide as the person mask's widest row more than
    `SHOULDER_ROWS_BELOW_JAW_M` below the jaw line (the farther side from the neck's axis, so a shoulder cut off by
    the crop does not narrow it), in metres at the head centre's depth, within `SHOULDER_HALF_WIDTH_M`; reaching
    `TORSO_BELOW` of the crop's height below the photo's view (so a turned view shows no cut edge)."""
    cam = cam or Camera(obs)
    view = view_from_head(cam)
    neck = np.float64([head.shell_centre[0], head.jaw_line_y - SHOULDER_ROWS_BELOW_JAW_M, 0.0])
    (u0, v0), = cam.project(neck[None])
    m_per_px = float((cam.R @ neck + cam.t)[2]) / cam.focal
    rows = (obs.mask[int(np.clip(np.ceil(v0), 0, obs.size)):] > MASK_LEVEL)
    cols = np.flatnonzero(rows.any(axis=0))
    half = max(u0 - cols.min(), cols.max() + 1 - u0) * m_per_px if len(cols) else SHOULDER_HALF_WIDTH_M[0]
    crop_height_m = obs.size * float((cam.R @ head.neck_pivot + cam.t)[2]) / cam.focal
    bottom = head.jaw_line_y - (1 + TORSO_BELOW) * crop_height_m
    return TorsoBody.fitted(float(head.shell_centre[0]), view[0], float(np.clip(half, *SHOULDER_HALF_WIDTH_M)),
                            bottom)
