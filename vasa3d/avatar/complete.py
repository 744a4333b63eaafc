"""Complete what the photo cannot show: the back and sides of the skull, the neck all round, and the mouth interior
(dark cavity, upper teeth on the skull, lower teeth and tongue on the jaw), so a turned head or an open mouth never
shows the background through the person. Head frame, metres.
"""

from __future__ import annotations

import numpy as np

from vasa3d.avatar.lift import Camera, disc_quats
from vasa3d.avatar.types import PART_BODY, PART_JAW, PART_SKULL, RigidGaussians
from vasa3d.config import AvatarConfig
from vasa3d.head import topology as topo
from vasa3d.head.model import NECK_CENTRE_Z_M, NECK_LENGTH_M, NECK_RADII_M, HeadModel
from vasa3d.head.mouth import SAMPLE_STEP_M, THICKNESS, mouth_surfaces

BACK_THICKNESS = 0.6            # completed back-of-head Gaussians: thickness / spacing. Seen only in turned views,
                               # and there at grazing angles near the silhouette, where thin discs turn edge-on and
                               # let the background through (a see-through "egg" behind the ear at yaw 30)
GRAZING_FACING = 0.35           # surface the photo sees at more than ~70 degrees from its normal is completed too ...
GRAZING_INSET_M = 0.004         # ... this far under the photo's pixels
TORSO_STEP_M = 0.006            # spacing of the completed torso's Gaussians
RIM_THETA = 1.45                # radians: the torso's outline as the photo camera sees it (about its side)
SIDE_NEIGHBOURS = 12           # visible samples each unseen back-of-head point draws its colour from
SIDE_REACH_M = 0.03             # ... fading into the crown's hair colour over this distance from them
SIDE_JITTER_M = 0.008          # ... looked up from points jittered by this (standard deviation)
SKIN_REACH_M = 0.008            # ... over this distance from skin-coloured ones
SKIN_CHROMA_DISTANCE = 0.04     # a colour within this chromaticity distance of the skin's ...
SKIN_BRIGHTNESS = (0.75, 1.4)   # ... and this range of its brightness is skin (scalp, forehead), not hair
RIM_COS = 0.35                  # the head volume's outline: |cos| of the angle from the photo's view axis below this
HAIR_MIN_SHARE = 0.2            # ... unless fewer than this share of the crown would be left (a bald head)
BACK_SHADE = 0.72               # the unseen back is this much darker than the photo's silhouette


def hidden_neck(head: HeadModel, cam: Camera, tri_id: np.ndarray, color: np.ndarray,
                seen_points: np.ndarray | None = None, seen_colors: np.ndarray | None = None) -> RigidGaussians:
    """Complete the neck where the photo cannot show it (its sides and back, and behind the chin), so a turned head
    shows neck under the jaw, not the background. Points on the neck cylinder from `NECK_LENGTH_M` below the jaw
    line up into the skull, skinned like the photo's neck, shaded darker round the back.

    Colour: the nearest of the photo's skin samples `seen_points` [M, 3] / `seen_colors` [M, 3] (optional: the jaw
    and the visible neck), fading into `color` [3] over `SIDE_REACH_M` from them, so the completed neck continues
    the jaw's and neck's own skin instead of standing beside them as a flat board of one colour.
    """
    step = 0.004
    angles = np.arange(0.0, 2 * np.pi, step / NECK_RADII_M[0])
    heights = np.arange(head.jaw_line_y - NECK_LENGTH_M, head.jaw_line_y + 0.04, step)
    a, y = np.meshgrid(angles, heights)
    a, y = a.ravel(), y.ravel()
    normals = np.stack([np.sin(a), np.zeros_like(a), np.cos(a)], axis=1)
    pts = np.stack([head.shell_centre[0] + NECK_RADII_M[0] * np.sin(a), y,
                    NECK_CENTRE_Z_M + NECK_RADII_M[1] * np.cos(a)], axis=1)
    view = cam.centre - pts
    facing = np.einsum("ij,ij->i", normals, view / np.linalg.norm(view, axis=1, keepdims=True))
    p = (pts @ cam.R.T + cam.t) @ cam.K.T
    px = np.clip((p[:, :2] / p[:, 2:]).astype(int), 0, tri_id.shape[0] - 1)
    keep = (facing < 0.15) | (tri_id[px[:, 1], px[:, 0]] >= 0)
    pts, normals, facing = pts[keep], normals[keep], facing[keep]
    n = len(pts)
    colors = np.tile(np.asarray(color, np.float32), (n, 1))
    if seen_points is not None and seen_colors is not None and len(seen_points) >= SIDE_NEIGHBOURS:
        near, dist, _ = _neighbour_colours(pts, seen_points, seen_colors, jitter_seed=4, pick_seed=5)
        w = np.clip(dist / SIDE_REACH_M, 0.0, 1.0)[:, None]
        colors = (1 - w) * near + w * colors
    return RigidGaussians(means=pts.astype(np.float32), quats=disc_quats(normals),
                          scales=np.tile(np.float32([step, step, step * 0.25]), (n, 1)),
                          colors=(_away_shade(facing)[:, None] * colors).astype(np.float32),
                          opacities=np.ones(n, np.float32), part=np.full(n, PART_BODY, np.int8),
                          skin=head.skin_weights(pts))


def _neighbour_colours(points: np.ndarray, pool_points: np.ndarray, pool_colors: np.ndarray, jitter_seed: int,
                       pick_seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(colours [N, 3], distance [N] metres, nearest int [N]) for `points` [N, 3] from the photo's samples
    `pool_points` [M, 3] with `pool_colors` [M, 3] (M >= `SIDE_NEIGHBOURS`): a random one (`pick_seed`) of the
    `SIDE_NEIGHBOURS` nearest mixed 40:60 with their mean, looked up from points jittered by `SIDE_JITTER_M`
    (`jitter_seed`; no texture combed along the way from the samples); the distance and index are those of the
    jittered point's nearest sample.

    The k-d search is approximate (`eps`: within 1.5x the true distance): hidden points lie far from the visible
    samples, where an exact search visits most of the tree (0.28 s -> 0.06 s for the back of the head; the colour
    is a blend anyway)."""
    from scipy.spatial import cKDTree

    jitter = np.random.default_rng(jitter_seed).normal(0.0, SIDE_JITTER_M, points.shape)
    dist, idx = cKDTree(pool_points).query(points + jitter, k=SIDE_NEIGHBOURS, eps=0.5)
    pick = np.random.default_rng(pick_seed).integers(0, SIDE_NEIGHBOURS, len(points))
    near = 0.4 * pool_colors[idx[np.arange(len(points)), pick]] + 0.6 * pool_colors[idx].mean(axis=1)
    return near.astype(np.float32), dist[:, 0], idx[:, 0]


def hidden_torso(head: HeadModel, cam: Camera, body: RigidGaussians, opaque: np.ndarray, free: np.ndarray,
                 size: int) -> RigidGaussians:
    """Complete the torso (`head.torso`) where the photo cannot show it: its sides round to the back, the band the
    photo sees at grazing angles, and what lies beyond the crop's bottom and side edges (down to the torso's
    `bottom_y`), so a turned view shows a curved body, not a cut edge or the background under a card.

    Args:
        head, cam: the head model and the photo camera; body: the rigid Gaussians lifted from the photo (its
            `PART_BODY` ones are the visible torso and neck); opaque: bool [S, S] the photo's opaque person pixels;
            free: bool [S, S] pixels the face mesh does not cover; size: S.
    Method: each sample of the torso below the jaw line has an anchor pixel: its own where the photo sees it, the
    torso's outline at its height where hidden, the crop's bottom row where below it; it is kept where the anchor is
    opaque person (so the shoulders' shape follows the photo) and, where the photo sees it, when it lies under the
    photo's own Gaussians there. Colours come from the nearest visible torso Gaussians (jittered look-up, as
    `back_of_head`), shaded darker round the back.
    """
    torso = head.torso
    top = head.jaw_line_y - 0.5 * NECK_LENGTH_M
    step = TORSO_STEP_M
    theta, y = np.meshgrid(np.arange(-np.pi, np.pi, step / torso.half_width), np.arange(torso.bottom_y, top, step))
    theta, y = theta.ravel(), y.ravel()
    pts, normals = torso.surface(theta, y), torso.normals(theta)
    view = cam.centre - pts
    facing = np.einsum("ij,ij->i", normals, view / np.linalg.norm(view, axis=1, keepdims=True))
    rim = np.clip(theta, -RIM_THETA, RIM_THETA)
    anchor = cam.project(torso.surface(np.where(facing < GRAZING_FACING, rim, theta), y))
    below = (anchor[:, 1] > size - 1) | (anchor[:, 0] < 0) | (anchor[:, 0] > size - 1)   # beyond the crop
    ax = np.clip(np.round(anchor).astype(int), 0, size - 1)
    keep = opaque[ax[:, 1], ax[:, 0]] & free[ax[:, 1], ax[:, 0]] & ((facing < GRAZING_FACING) | below)
    pts = np.where((facing >= 0)[:, None], pts - GRAZING_INSET_M * normals, pts)
    visible = (body.part == PART_BODY) & (body.opacities > 0.8)
    seen = (facing >= -0.05) & ~below
    keep &= ~seen | _behind(cam, pts, body.means[visible], GRAZING_INSET_M)
    pts, normals, facing = pts[keep], normals[keep], facing[keep]
    if len(pts) == 0 or visible.sum() < SIDE_NEIGHBOURS:
        return RigidGaussians(means=np.zeros((0, 3), np.float32), quats=np.zeros((0, 4), np.float32),
                              scales=np.zeros((0, 3), np.float32), colors=np.zeros((0, 3), np.float32),
                              opacities=np.zeros(0, np.float32), part=np.zeros(0, np.int8),
                              skin=np.zeros(0, np.float32))
    near, _, _ = _neighbour_colours(pts, body.means[visible], body.colors[visible], jitter_seed=3, pick_seed=4)
    colors = near * _away_shade(facing)[:, None]
    n = len(pts)
    return RigidGaussians(means=pts.astype(np.float32), quats=disc_quats(normals),
                          scales=np.tile(np.float32([step, step, step * BACK_THICKNESS]), (n, 1)),
                          colors=colors.astype(np.float32), opacities=np.ones(n, np.float32),
                          part=np.full(n, PART_BODY, np.int8), skin=head.skin_weights(pts))


def back_of_head(head: HeadModel, cam: Camera, body: RigidGaussians, skin: np.ndarray, config: AvatarConfig,
                 face_points: np.ndarray | None = None, face_colors: np.ndarray | None = None,
                 interior: np.ndarray | None = None, opaque: np.ndarray | None = None,
                 free: np.ndarray | None = None) -> RigidGaussians:
    """Complete the unseen back and sides of the head: the points of the head model's volume (`head.volume`,
    skull and hair shaped from the person's outline) the photo camera cannot see, coloured by carrying the visible
    head's colours backwards and shaded darker as they face away.

    Args:
        head, cam: the head model and the photo camera.
        body: the rigid Gaussians lifted from the photo; its opaque skull part (hair, ears) is what is visible.
        skin: float32 [3], the face's median colour (used when nothing visible is near).
        config: `back_of_head_points` sets the density.
        face_points, face_colors: float32 [M, 3] each, optional: the face pixels' points (head frame, metres) and
            colours, so the sides below the hair continue the cheeks and jaw.
        interior: bool [len(body)], optional: the body Gaussians well inside the person mask (see `hair_colours`).
        opaque: bool [S, S], optional: the photo's pixels where the person is opaque; hidden points that project
            elsewhere are dropped, so the completion never shows through the photo's soft outline (a pale ring).
        free: bool [S, S], optional (with `opaque`): pixels the face mesh does not cover. Where given, the band
            the photo sees at grazing angles (`GRAZING_FACING`) is completed too, `GRAZING_INSET_M` under the
            surface, where it projects onto opaque free pixels.
    Method: each hidden point takes the colour of one of its `SIDE_NEIGHBOURS` nearest visible samples (a random
    one, mixed 40:60 with their mean, so the texture continues without blotches), fading into the crown's hair
    colour (`hair_colours`) over `SIDE_REACH_M` from the nearest sample: the side hair, ears and temples of the
    photo continue round to the back, short hair stays short and long hair long. A Lambert-like factor
    (`BACK_SHADE` at the very back, 1 at the photo's silhouette) keeps the completed sides from reading as a flat
    cut-out when the head turns.
    """
    pts, normals, spacing = head.volume.samples(config.back_of_head_points)
    view = cam.centre - pts
    facing = np.einsum("ij,ij->i", normals, view / np.linalg.norm(view, axis=1, keepdims=True))
    hidden = facing < -0.05
    keep = (facing < GRAZING_FACING) & (pts[:, 1] > head.jaw_line_y + 0.02)
    if opaque is not None:
        px = np.clip(np.round(cam.project(pts)).astype(int), 0, opaque.shape[0] - 1)
        keep &= opaque[px[:, 1], px[:, 0]]
        if free is not None:
            keep &= hidden | free[px[:, 1], px[:, 0]]
    else:
        keep &= hidden
    # the grazing band under the photo's own (sparse, slanted) pixels: tucked behind them, so the photo's view is
    # unchanged and a turned view shows this surface between them instead of the background through stripes
    pts = np.where(hidden[:, None], pts, pts - GRAZING_INSET_M * normals)
    if free is not None and opaque is not None:
        pushed = _push_behind(cam, pts, body.means[body.part == PART_SKULL], GRAZING_INSET_M)
        pts = np.where(hidden[:, None], pts, pushed)
    pts, normals, facing, spacing = pts[keep], normals[keep], facing[keep], spacing[keep]
    hair = hair_colours(head, body, len(pts), skin=skin, interior=interior)
    visible = (body.part == PART_SKULL) & (body.opacities > 0.8)
    pool_p, pool_c = body.means[visible], body.colors[visible]
    if face_points is not None and face_colors is not None and len(face_points):
        pool_p = np.concatenate([pool_p, face_points])
        pool_c = np.concatenate([pool_c, face_colors])
    if len(pool_p) >= SIDE_NEIGHBOURS:
        near, dist, nearest = _neighbour_colours(pts, pool_p, pool_c, jitter_seed=2, pick_seed=1)
        # skin (cheeks, ears) continues only `SKIN_REACH_M` round to the back, hair `SIDE_REACH_M`: behind the ears
        # is hair, and skin carried far back reads as a pale egg behind a short-haired head
        reach = np.where(skin_like(pool_c[nearest], skin), SKIN_REACH_M, SIDE_REACH_M)
        w = np.clip(dist / reach, 0.0, 1.0)[:, None]
        colors = (1 - w) * near + w * hair
    else:
        eye_y = float(head.eye_centres[:, 1].mean())
        cheek = (pts[:, 1] < eye_y - 0.01) & (pts[:, 2] > head.shell_centre[2])
        colors = np.where(cheek[:, None], skin[None, :], hair)
    colors = colors * _away_shade(facing)[:, None]
    scales = np.stack([spacing, spacing, spacing * BACK_THICKNESS], axis=1)
    return RigidGaussians(means=pts.astype(np.float32), quats=disc_quats(normals), scales=scales.astype(np.float32),
                          colors=colors.astype(np.float32),
                          opacities=np.ones(len(pts), np.float32), part=np.full(len(pts), PART_SKULL, np.int8),
                          skin=np.ones(len(pts), np.float32))


def _depth_and_lifted_depth(cam: Camera, points: np.ndarray, lifted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(photo camera depth [N] of head-frame `points` [N, 3], depth [N] of the lifted photo Gaussian of `lifted`
    [M, 3], M > 0, nearest to each in the photo's image), metres."""
    from scipy.spatial import cKDTree

    depth = lambda p: (p @ cam.R.T + cam.t)[:, 2]  # noqa: E731
    _, i = cKDTree(cam.project(lifted)).query(cam.project(points))
    return depth(points), depth(lifted)[i]


def _behind(cam: Camera, points: np.ndarray, lifted: np.ndarray, margin: float) -> np.ndarray:
    """bool [N]: head-frame `points` [N, 3] at least `margin` metres deeper (photo camera depth) than the lifted
    photo Gaussian `lifted` [M, 3] nearest to them in the photo's image (none lifted: all True)."""
    if len(lifted) == 0:
        return np.ones(len(points), bool)
    z, z_lifted = _depth_and_lifted_depth(cam, points, lifted)
    return z >= z_lifted + margin


def _push_behind(cam: Camera, points: np.ndarray, lifted: np.ndarray, margin: float) -> np.ndarray:
    """float [N, 3]: head-frame `points` [N, 3] moved along the photo camera's rays, where needed, to at least
    `margin` metres deeper than the lifted photo Gaussian `lifted` [M, 3] nearest to them in the photo's image, so
    the photo's view keeps showing its own Gaussians in front of them."""
    if len(lifted) == 0:
        return points
    z, z_lifted = _depth_and_lifted_depth(cam, points, lifted)
    scale = np.maximum((z_lifted + margin) / np.maximum(z, 1e-6), 1.0)[:, None]   # along the ray from the camera
    return cam.centre + (points - cam.centre) * scale


def _away_shade(facing: np.ndarray) -> np.ndarray:
    """float [N] brightness factor of completed surface by `facing` [N] (cosine between its normal and the direction
    to the photo camera, <= 0 where unseen): 1 at the photo's silhouette, `BACK_SHADE` facing straight away."""
    return BACK_SHADE + (1 - BACK_SHADE) * np.clip(1 + facing, 0, 1)


def hair_colours(head: HeadModel, body: RigidGaussians, n: int, seed: int = 0, skin: np.ndarray | None = None,
                 interior: np.ndarray | None = None) -> np.ndarray:
    """float32 [n, 3] colours for unseen hair, drawn from the photo's crown, each mixed 30:70 with the crown's median
    so the texture is hair-like but not blotchy.

    The crown is the opaque skull Gaussians of `body` above the top of the face mesh or on the head volume's
    outline above the eyes (`RIM_COS`: the side hair, which continues round the back, where the top of the crown
    is often lit scalp); of those, the ones flagged in
    `interior` (bool [len(body)], optional: well inside the person mask, so no background at the mask's edge) and,
    where enough remain (`HAIR_MIN_SHARE`), the ones not skin-coloured (`skin_like` to `skin` [3]: a high forehead
    or a thin crown's scalp is not the hair colour), and of those the darker half (the lit crown's highlights are
    not the colour of the unseen back). Falls back to all skull Gaussians, then to dark brown.
    """
    skull = (body.part == PART_SKULL) & (body.opacities > 0.8)
    _, beta = head.volume.angles(body.means)
    sides = (np.abs(np.cos(beta)) < RIM_COS) & (body.means[:, 1] > float(head.eye_centres[:, 1].mean()))
    crown = skull & ((body.means[:, 1] > head.face_photo[topo.FOREHEAD, 1]) | sides)
    for narrower in (interior, None if skin is None else ~skin_like(body.colors, skin)):
        if narrower is not None and (crown & narrower).sum() >= max(20, HAIR_MIN_SHARE * crown.sum()):
            crown = crown & narrower
    pool = body.colors[crown] if crown.sum() >= 20 else body.colors[skull]
    if len(pool) >= 40:
        # the darker half: the crown is lit from the front and above (highlights, a shining scalp), the unseen back
        # faces away from that light; its lit colour all over the back reads as a pale egg rather than hair
        luma = pool.sum(axis=1)
        pool = pool[luma <= np.median(luma)]
    if len(pool) == 0:
        return np.tile(np.float32([0.2, 0.15, 0.1]), (n, 1))
    draws = pool[np.random.default_rng(seed).integers(0, len(pool), n)]
    return (0.3 * draws + 0.7 * np.median(pool, axis=0)[None]).astype(np.float32)


def skin_like(rgb: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """bool [N]: colours rgb [N, 3] of the same chromaticity (r, g, b over their sum) as `skin` [3] within
    `SKIN_CHROMA_DISTANCE` and a brightness within `SKIN_BRIGHTNESS` times its: lit or shaded skin, whereas white,
    grey, black or brown hair differs in chromaticity or brightness."""
    skin = np.asarray(skin, np.float32)
    total = rgb.sum(axis=1) + 0.06
    chroma = (rgb + 0.02) / total[:, None]
    skin_chroma = (skin + 0.02) / (skin.sum() + 0.06)
    ratio = total / (skin.sum() + 0.06)
    return (np.linalg.norm(chroma - skin_chroma[None], axis=1) < SKIN_CHROMA_DISTANCE) & \
        (ratio > SKIN_BRIGHTNESS[0]) & (ratio < SKIN_BRIGHTNESS[1])


MOUTH_TONE = {                  # surface -> (source, brightness factor): each colour is the photo's own
    "cavity": ("lips", 0.22),   # dark depth: the lips' hue, very dark
    "back wall": ("lips", 0.12),
    "tongue": ("lips", 0.8),    # the tongue: a little darker than the lips
    "upper teeth": ("teeth", 1.0),
    "lower teeth": ("teeth", 0.88),
}
TEETH_TINT = 0.25               # unseen teeth: this share of the skin's tint over a neutral grey ...
TEETH_BRIGHTNESS = (1.1, 0.55, 0.85)   # ... of the skin's brightness times the first value, within the other two
SEEN_TEETH_MIN_PX = 40          # a photo showing at least this many bright pixels inside the inner lips shows teeth
SEEN_TEETH_BRIGHTNESS = 0.9     # ... bright: at least this times the skin's brightness


def mouth_palette(obs, mouth_hole: np.ndarray, skin: np.ndarray) -> dict[str, np.ndarray]:
    """Base colours of the mouth interior's surfaces (`MOUTH_TONE` keys -> float32 RGB [3]) from the photo's own
    lips, teeth and skin, so a greyscale photo gets a greyscale mouth and a painting a painted one.

    Args:
        obs: the `FaceObservation` (image, landmarks_px). mouth_hole: bool [S, S], inside the inner lips.
        skin: float [3], the face's median colour.
    Method: lips = the median photo colour between the outer and inner lip contours; teeth = the median of the
    bright pixels inside the inner lips where the photo shows teeth (`SEEN_TEETH_*`), else a light grey carrying
    `TEETH_TINT` of the skin's tint; each surface = its source times its `MOUTH_TONE` factor.
    """
    import cv2

    def poly(contour_a, contour_b):
        pts = np.concatenate([obs.landmarks_px[list(contour_a)], obs.landmarks_px[list(contour_b[::-1])]])
        m = np.zeros((obs.size, obs.size), np.uint8)
        cv2.fillPoly(m, [np.round(pts).astype(np.int32)], 1)
        return m.astype(bool)

    outer = poly(topo.LIP_UPPER_OUTER, topo.LIP_LOWER_OUTER)
    lip_px = obs.image[outer & ~mouth_hole]
    skin = np.asarray(skin, np.float32)
    lips = np.median(lip_px, axis=0) if len(lip_px) >= 10 else skin
    luma = lambda c: float(np.asarray(c, np.float32).mean())  # noqa: E731
    inside = obs.image[mouth_hole]
    bright = inside[inside.mean(axis=1) >= SEEN_TEETH_BRIGHTNESS * luma(skin)] if len(inside) else inside
    if len(bright) >= SEEN_TEETH_MIN_PX:
        teeth = np.median(bright, axis=0)
    else:
        level = np.clip(TEETH_BRIGHTNESS[0] * luma(skin), *TEETH_BRIGHTNESS[1:])
        teeth = level * (1 - TEETH_TINT + TEETH_TINT * skin / max(luma(skin), 1e-3))
    source = {"lips": np.asarray(lips, np.float32), "teeth": np.asarray(teeth, np.float32)}
    return {name: np.clip(source[src] * factor, 0, 1).astype(np.float32) for name, (src, factor) in MOUTH_TONE.items()}


def mouth_interior(head: HeadModel, palette: dict[str, np.ndarray] | None = None) -> RigidGaussians:
    """Gaussians on the head model's mouth interior (`vasa3d.head.mouth`): cavity, back wall and upper teeth on
    the skull, lower teeth and tongue on the jaw; flat discs facing the camera, each surface's base colour (from
    `palette`, surface name -> RGB [3], e.g. `mouth_palette`; the generic `spec.color` where absent) times its
    ambient shade."""
    groups = []
    for surface in mouth_surfaces(head):
        n = len(surface.points)
        spec = surface.spec
        base = np.float32(spec.color) if palette is None or spec.name not in palette else palette[spec.name]
        groups.append(RigidGaussians(
            means=surface.points, quats=np.tile(np.float32([1, 0, 0, 0]), (n, 1)),
            scales=np.tile(np.float32([surface.size_m, surface.size_m, SAMPLE_STEP_M * THICKNESS]), (n, 1)),
            colors=(np.asarray(base, np.float32)[None, :] * surface.shade[:, None]).astype(np.float32),
            opacities=np.ones(n, np.float32), part=np.full(n, PART_SKULL if spec.part == "skull" else PART_JAW, np.int8),
            skin=np.ones(n, np.float32)))
    return RigidGaussians.concatenate(groups)
