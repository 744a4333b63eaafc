"""Eyes of the avatar: eyeballs with the photo's iris, and lash lines for the closed lids.

Each eyeball is a sphere (`EYEBALL_RADIUS_M`, centre `HeadModel.eye_centres`) carrying (1) the photo's pixels seen
through the eye opening, lifted onto the sphere by their camera rays, and (2) a completion of the rest of the front of
the sphere: the iris where the iris landmarks (MediaPipe 468-477: centre + 4 rim points per eye; Grishchenko et al.
2020) put it, in the photo's iris colour with a darker pupil and limbal ring, and sclera elsewhere. The whole sphere
turns with the gaze, so the iris moves and a turned eye never shows a hole.

A blink slides the upper lid's skin down over the eyeball (see `vasa3d.head.rig`); the dark lash line along the upper
lid margin, which makes a shut eye read as shut, is drawn by thin Gaussians bound to the lid-margin triangles that
fade in with eyeBlink (`BoundGaussians.lash`). Head frame, metres.
"""

from __future__ import annotations

import numpy as np

from vasa3d.avatar.lift import Camera, disc_quats, ray_ellipsoid, rigid_from_pixels
from vasa3d.avatar.quat import triangle_frames
from vasa3d.avatar.types import PART_EYE_L, PART_EYE_R, PART_SKULL, Binding, BoundGaussians, Fade, RigidGaussians
from vasa3d.face.analysis import FaceObservation
from vasa3d.head import topology as topo
from vasa3d.head.model import EYEBALL_RADIUS_M, HeadModel

EYE_CAP_RAD = np.radians(100.0)   # the eyeball is covered within this angle of the photo's gaze direction
FILL_SPACING_M = 0.00065          # spacing of the completion Gaussians on the eyeball
IRIS_RIGHT = (468, 469, 470, 471, 472)   # subject's right eye: centre, then 4 rim points
IRIS_LEFT = (473, 474, 475, 476, 477)
DEFAULT_IRIS = (0.25, 0.16, 0.10)
DEFAULT_SCLERA = (0.82, 0.78, 0.75)
SOCKET_SCALE = 1.25              # the socket's back wall: a sphere this many eyeball radii about the eye centre
SOCKET_SPACING_M = 0.0012
SOCKET_COLOUR = (0.10, 0.06, 0.05)
LASH_SIGMA_M = 0.00045            # in-plane standard deviation of a lash Gaussian
LASH_STEP_M = 0.0003              # spacing of lash Gaussians along the lid margin
LASH_OFFSET_M = 0.0004            # lash line sits this far in front of the lid skin (along the normal)
LASH_OPACITY = 0.95


def eye_gaussians(obs: FaceObservation, head: HeadModel, cam: Camera, holes: dict[str, np.ndarray],
                  tri_id: np.ndarray) -> RigidGaussians:
    """Both eyeballs (PART_EYE_R, PART_EYE_L): the photo's eye-opening pixels (`holes["eye_r"/"eye_l"]` [S, S] bool,
    less the pixels a face triangle covers, `tri_id` >= 0) on the sphere, plus the completed rest of the sphere."""
    out = []
    for key, part, centre, iris_ids in (("eye_r", PART_EYE_R, head.eye_centres[0], IRIS_RIGHT),
                                        ("eye_l", PART_EYE_L, head.eye_centres[1], IRIS_LEFT)):
        opening = holes[key] & (tri_id < 0)
        yy, xx = np.nonzero(opening)
        dirs = cam.rays(np.stack([xx + 0.5, yy + 0.5], axis=1))
        t, hit = ray_ellipsoid(cam.centre, dirs, centre, np.full(3, EYEBALL_RADIUS_M))
        t = np.where(hit, t, (centre - cam.centre) @ dirs.T)
        pts = cam.centre + t[:, None] * dirs
        normals = (pts - centre) / np.linalg.norm(pts - centre, axis=1, keepdims=True)
        out.append(rigid_from_pixels(obs, cam, yy, xx, pts, normals, part, head, 1, 0.3))
        out.append(_eyeball_fill(obs, cam, holes[key], centre, part, iris_ids))
        out.append(_socket(centre))
    return RigidGaussians.concatenate(out)


def _socket(centre: np.ndarray) -> RigidGaussians:
    """The dark back of the eye socket (PART_SKULL): the rear of a sphere `SOCKET_SCALE` times the eyeball's, so a
    ray through the eye opening that passes beside the eyeball (an eye corner seen from the side) ends on shadow,
    not in the hollow head."""
    r = SOCKET_SCALE * EYEBALL_RADIUS_M
    n = int(4 * np.pi * r ** 2 / SOCKET_SPACING_M ** 2)
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5 ** 0.5) * i
    unit = np.stack([np.sin(phi) * np.cos(theta), np.sin(phi) * np.sin(theta), np.cos(phi)], axis=1)
    unit = unit[unit[:, 2] < 0.2]
    m = len(unit)
    s = 0.7 * SOCKET_SPACING_M
    return RigidGaussians(means=(centre + r * unit).astype(np.float32), quats=disc_quats(-unit),
                          scales=np.tile(np.float32([s, s, 0.3 * s]), (m, 1)),
                          colors=np.tile(np.float32(SOCKET_COLOUR), (m, 1)), opacities=np.ones(m, np.float32),
                          part=np.full(m, PART_SKULL, np.int8), skin=np.ones(m, np.float32))


def _iris(obs: FaceObservation, cam: Camera, centre: np.ndarray, iris_ids) -> tuple[np.ndarray, float, np.ndarray,
                                                                                     float]:
    """(unit direction [3] from the eyeball centre to the iris centre, iris half-angle in rad, iris centre in photo
    pixels [2], iris radius in pixels), from the iris landmarks."""
    c_px = obs.landmarks_px[iris_ids[0]].astype(np.float64)
    r_px = float(np.linalg.norm(obs.landmarks_px[list(iris_ids[1:])] - c_px, axis=1).mean())
    ray = cam.rays(c_px[None])
    t, hit = ray_ellipsoid(cam.centre, ray, centre, np.full(3, EYEBALL_RADIUS_M))
    t = t if hit[0] else (centre - cam.centre) @ ray.T
    p = cam.centre + float(np.ravel(t)[0]) * ray[0]
    d = (p - centre) / np.linalg.norm(p - centre)
    r_m = r_px * float(cam.metres_per_px(p[None])[0])
    return d, float(np.arcsin(min(r_m / EYEBALL_RADIUS_M, 0.9))), c_px, r_px


def _eye_colours(obs: FaceObservation, opening: np.ndarray, c_px: np.ndarray, r_px: float):
    """(iris [3], sclera [3]) RGB: medians of the opening's pixels inside the iris circle and of the brighter half of
    those outside it (the lid's shadow darkens the rest); defaults where the photo shows too little."""
    yy, xx = np.nonzero(opening)
    d = np.hypot(xx + 0.5 - c_px[0], yy + 0.5 - c_px[1])
    pix = obs.image[yy, xx]
    inner, outer = pix[d < 0.8 * r_px], pix[d > 1.15 * r_px]
    iris = np.median(inner, axis=0) if len(inner) >= 3 else np.asarray(DEFAULT_IRIS)
    if len(outer) >= 6:
        lum = outer.mean(axis=1)
        sclera = np.median(outer[lum >= np.median(lum)], axis=0)
    else:
        sclera = np.asarray(DEFAULT_SCLERA)
    return iris.astype(np.float32), sclera.astype(np.float32)


def _eyeball_fill(obs: FaceObservation, cam: Camera, opening: np.ndarray, centre: np.ndarray, part: int,
                  iris_ids) -> RigidGaussians:
    """The eyeball's front (within `EYE_CAP_RAD` of the gaze) where the photo does not show it: iris (with pupil and
    a darker limbal ring) and sclera (shaded towards the sides), discs `FILL_SPACING_M` apart on the sphere."""
    gaze, alpha, c_px, r_px = _iris(obs, cam, centre, iris_ids)
    iris, sclera = _eye_colours(obs, opening, c_px, r_px)
    n = int(4 * np.pi * EYEBALL_RADIUS_M ** 2 / FILL_SPACING_M ** 2)
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5 ** 0.5) * i
    unit = np.stack([np.sin(phi) * np.cos(theta), np.sin(phi) * np.sin(theta), np.cos(phi)], axis=1)
    angle = np.arccos(np.clip(unit @ gaze, -1.0, 1.0))
    pts = centre + EYEBALL_RADIUS_M * unit
    px = cam.project(pts)
    S = opening.shape[0]
    inside = (px >= 0).all(1) & (px < S).all(1)
    ix = np.clip(px.astype(int), 0, S - 1)
    seen = inside & opening[ix[:, 1], ix[:, 0]] & (np.einsum("ij,ij->i", unit, cam.centre - pts) > 0)
    keep = (angle < EYE_CAP_RAD) & ~seen
    unit, angle, pts = unit[keep], angle[keep], pts[keep]
    shade = (0.7 + 0.3 * np.cos(np.minimum(angle, np.pi / 2)))[:, None]
    colors = np.where((angle < alpha)[:, None], iris[None] * np.where(angle > 0.85 * alpha, 0.7, 1.0)[:, None],
                      sclera[None] * shade)
    colors = np.where((angle < 0.4 * alpha)[:, None], 0.25 * iris[None], colors)
    m = len(pts)
    s = 0.6 * FILL_SPACING_M
    return RigidGaussians(means=pts.astype(np.float32), quats=disc_quats(unit),
                          scales=np.tile(np.float32([s, s, 0.3 * s]), (m, 1)),
                          colors=colors.astype(np.float32), opacities=np.ones(m, np.float32),
                          part=np.full(m, part, np.int8), skin=np.ones(m, np.float32))


def lash_gaussians(obs: FaceObservation, head: HeadModel) -> BoundGaussians:
    """Dark Gaussians along the upper lid margins, bound to the margin triangles (binding FACE_RIGID: they keep their size) so
    they ride on the closing lid (fade BLINK_RIGHT/BLINK_LEFT: posing fades them in with eyeBlinkRight/Left; invisible when open).
    Colour: the darkest pixels along the photo's upper lid margin, darkened further."""
    R, k = triangle_frames(head.face_photo, head.triangles)
    parts = []
    for contour, lash in ((topo.EYE_RIGHT_UPPER, Fade.BLINK_RIGHT), (topo.EYE_LEFT_UPPER, Fade.BLINK_LEFT)):
        colour = _lash_colour(obs, contour)
        for a, b in zip(contour[:-1], contour[1:]):
            m = max(2, int(np.linalg.norm(head.face_photo[a] - head.face_photo[b]) / LASH_STEP_M))
            f, _, bary = along_edge(head.triangles, a, b, m)
            if f >= 0:
                parts.append((np.full(m, f, np.int32), bary, colour, lash))
    parent = np.concatenate([p[0] for p in parts])
    kk = k[parent]
    n = len(parent)
    return BoundGaussians(parent=parent, bary=np.concatenate([p[1] for p in parts]),
                          offset=(LASH_OFFSET_M / kk).astype(np.float32),
                          local_quat=np.tile(np.float32([1, 0, 0, 0]), (n, 1)),
                          local_scale=(np.float32([LASH_SIGMA_M, LASH_SIGMA_M, 0.3 * LASH_SIGMA_M])[None] / kk[:, None]
                                       ).astype(np.float32),
                          colors=np.concatenate([np.tile(p[2], (len(p[0]), 1)) for p in parts]).astype(np.float32),
                          opacities=np.full(n, LASH_OPACITY, np.float32),
                          binding=np.full(n, int(Binding.FACE_RIGID), np.int8),
                          fade=np.concatenate([np.full(len(p[0]), int(p[3]), np.int8) for p in parts]))


def along_edge(triangles: np.ndarray, a: int, b: int, m: int) -> tuple[int, np.ndarray, np.ndarray]:
    """m points along the mesh edge from vertex a to vertex b, at the middles of m equal steps: (index of a triangle
    holding the edge, or -1 when none does; t float [m] in (0, 1) from a to b; float32 [m, 3] their barycentric
    coordinates in that triangle, zeros when there is none)."""
    hits = np.flatnonzero((triangles == a).any(axis=1) & (triangles == b).any(axis=1))
    t = (np.arange(m) + 0.5) / m
    bary = np.zeros((m, 3), np.float32)
    if not len(hits):
        return -1, t, bary
    f = int(hits[0])
    order = list(triangles[f])
    bary[:, order.index(a)] = 1 - t
    bary[:, order.index(b)] = t
    return f, t, bary


def _lash_colour(obs: FaceObservation, contour) -> np.ndarray:
    """RGB [3]: the 15th-percentile (by brightness) photo colour along the lid margin `contour`, times 0.5, at most
    0.2 in any channel."""
    pts = obs.landmarks_px[list(contour)].astype(np.float64)
    samples = np.concatenate([a + (b - a) * np.linspace(0, 1, 8, endpoint=False)[:, None]
                              for a, b in zip(pts[:-1], pts[1:])])
    S = obs.size
    ix = np.clip(samples.astype(int), 0, S - 1)
    pix = obs.image[ix[:, 1], ix[:, 0]]
    lum = pix.mean(axis=1)
    dark = pix[lum <= np.percentile(lum, 15)]
    return np.minimum(0.5 * np.median(dark, axis=0), 0.2).astype(np.float32)
