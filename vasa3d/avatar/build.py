"""Build pixel-aligned Gaussians from one portrait and bind them to the head model.

One Gaussian per face pixel (per `body_stride`^2 block elsewhere) is lifted onto the head by casting the pixel's
camera ray (`lift`): face pixels onto the face-mesh triangle under them (bound by triangle index + barycentric
coordinates, GaussianAvatars-style, so they follow every expression; slivers along the lid and lip contours go to the
nearest triangle), eye openings onto the eyeballs (`eyes`), hair and ears onto the skull ellipsoid (their depth
blended into the face edge's, so nothing cracks open at the face's border when the head turns), neck and torso onto
the neck cylinder or the head model's curved torso (skinned: the torso stays still). Unseen parts are completed: the
skirt under the jaw (`skirt`), the back of the head, the neck and the torso all round and the mouth interior
(`complete`).
Method after VASA-3D's pixel-aligned Gaussian initialisation and GaussianHeadTalk's mesh-bound Gaussians.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from vasa3d.avatar.complete import NECK_CENTRE_Z_M, NECK_RADII_M, back_of_head, hidden_neck, hidden_torso, \
    mouth_interior, mouth_palette, skin_like
from vasa3d.avatar.eyes import eye_gaussians, lash_gaussians
from vasa3d.avatar.lips import lip_line_gaussians
from vasa3d.avatar.matting import background_like_edges, unmix_edges
from vasa3d.avatar.lift import PIXEL_SIGMA, Camera, block_mean, ray_ellipsoid, rigid_from_pixels, slant_scales
from vasa3d.avatar.quat import triangle_frames
from vasa3d.avatar.skirt import skirt_gaussians
from vasa3d.avatar.types import PART_BODY, PART_JAW, PART_SKULL, BoundGaussians, RigidGaussians
from vasa3d.config import AvatarConfig
from vasa3d.face.analysis import FaceObservation
from vasa3d.head import topology as topo
from vasa3d.head.model import HeadModel

MIN_OPACITY = 0.05
MIN_HAIR_EDGE_OPACITY = 0.6  # fainter hair-edge Gaussians are dropped: on the head volume's rim they draw a line over
                             # the completed hair once the head turns (the plate behind shows the same background)
TOWARD_VIEW = 0.6          # hair/ear disc normals are tilted this far (before normalising) towards the photo camera
FACE_BLEND = 0.04          # hair/ear depth blends from the face edge's to the skull shell's over this share of the crop
INTERIOR_MARGIN = 0.025   # "inside the person mask": this share of the crop from its edge
OPAQUE_MASK = 0.9          # person-mask probability above which the photo shows the person opaque
NECK_SHADE = 0.85          # the unseen neck: the face's median skin colour darkened by this
__all__ = ["build_gaussians", "NECK_CENTRE_Z_M", "NECK_RADII_M"]


def build_gaussians(obs: FaceObservation, head: HeadModel, config: AvatarConfig = AvatarConfig()
                    ) -> tuple[BoundGaussians, RigidGaussians]:
    """Lift the photo's pixels into Gaussians bound to `head`.

    Args:
        obs: the face observation of the photo (crop, mask, landmarks, camera).
        head: the head model fitted to `obs.landmarks_head`.
        config: strides, back-of-head budget, disc thickness.
    Returns:
        (face Gaussians bound to triangles, rigid Gaussians of skull/jaw/eyes/body), all in the head frame at rest.
    """
    cam = Camera(obs)
    tri_id, bary = _rasterize_face(obs, head)
    holes = _hole_masks(obs)
    tri_id, bary = _fill_slivers(obs, head, tri_id, bary, holes)
    pixels = _face_gaussians(obs, head, cam, tri_id, bary, config)
    skin = np.median(pixels.colors, axis=0)
    neck = NECK_SHADE * skin
    face = BoundGaussians.concatenate([pixels, lash_gaussians(obs, head), lip_line_gaussians(obs, head),
                                       skirt_gaussians(obs, head, cam, tri_id, NECK_CENTRE_Z_M, NECK_RADII_M[0], neck)])
    rigid = [eye_gaussians(obs, head, cam, holes, tri_id),
             _mouth_hole_gaussians(obs, head, cam, holes, tri_id),
             _body_gaussians(obs, head, cam, tri_id, bary, holes, config)]
    face_points = np.einsum("nk,nkd->nd", pixels.bary, head.face_photo[head.triangles[pixels.parent]])
    rigid.append(back_of_head(head, cam, rigid[-1], skin, config, face_points, pixels.colors,
                              interior=_inside_mask(obs, cam, rigid[-1].means), opaque=obs.mask > OPAQUE_MASK,
                              free=~_face_region(tri_id, holes)))
    jaw = face_points[:, 1] < float(head.face_photo[list(topo.LIP_LOWER_OUTER), 1].min())    # the face below the lips
    body = rigid[2]
    neck_skin = (body.part == PART_BODY) & (body.opacities > 0.8) & skin_like(body.colors, skin)
    rigid.append(hidden_neck(head, cam, tri_id, neck, np.concatenate([face_points[jaw], body.means[neck_skin]]),
                             np.concatenate([pixels.colors[jaw], body.colors[neck_skin]])))
    rigid.append(hidden_torso(head, cam, rigid[2], obs.mask > OPAQUE_MASK, ~_face_region(tri_id, holes), obs.size))
    rigid.append(mouth_interior(head, mouth_palette(obs, holes["mouth"], skin)))
    return face, RigidGaussians.concatenate(rigid)


def _rasterize_face(obs: FaceObservation, head: HeadModel) -> tuple[np.ndarray, np.ndarray]:
    """Triangle index [S, S] (-1 = none) and barycentrics [S, S, 3] of the nearest face triangle per pixel."""
    S = obs.size
    tri_id = np.full((S, S), -1, dtype=np.int32)
    bary = np.zeros((S, S, 3), dtype=np.float32)
    zbuf = np.full((S, S), np.inf, dtype=np.float32)
    uv, z = obs.landmarks_px[:468].astype(np.float64), obs.landmarks_cam[:468, 2]
    for f, (a, b, c) in enumerate(head.triangles):
        x0, y0 = np.floor(np.minimum(np.minimum(uv[a], uv[b]), uv[c])).astype(int)
        x1, y1 = np.ceil(np.maximum(np.maximum(uv[a], uv[b]), uv[c])).astype(int)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, S - 1), min(y1, S - 1)
        if x1 < x0 or y1 < y0:
            continue
        ys, xs = np.mgrid[y0:y1 + 1, x0:x1 + 1]
        p = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)
        w = _barycentric(p, uv[a], uv[b], uv[c])
        inside = (w >= -1e-6).all(axis=1)
        if not inside.any():
            continue
        xi, yi, wi = xs.ravel()[inside], ys.ravel()[inside], w[inside]
        depth = wi @ np.array([z[a], z[b], z[c]])
        closer = depth < zbuf[yi, xi]
        xi, yi = xi[closer], yi[closer]
        zbuf[yi, xi] = depth[closer]
        tri_id[yi, xi] = f
        bary[yi, xi] = wi[closer]
    return tri_id, bary


def _fill_slivers(obs: FaceObservation, head: HeadModel, tri_id: np.ndarray, bary: np.ndarray,
                  holes: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Bind the few pixels inside the face mesh's outline that no triangle covers and no eye/mouth opening claims
    (slivers along the lid and lip contours) to the nearest triangle (barycentrics clipped to it). Left alone
    they would be lifted onto the skull shell, in front of the face, and show as dark dots when the lids move.
    Returns new (tri_id [S, S], bary [S, S, 3])."""
    import scipy.ndimage as ndi

    sliver = ndi.binary_fill_holes(tri_id >= 0) & (tri_id < 0)
    for m in holes.values():
        sliver &= ~m
    if not sliver.any():
        return tri_id, bary
    _, (iy, ix) = ndi.distance_transform_edt(tri_id < 0, return_indices=True)
    yy, xx = np.nonzero(sliver)
    tri_id, bary = tri_id.copy(), bary.copy()
    uv = obs.landmarks_px[:468].astype(np.float64)
    for y, x in zip(yy, xx):
        f = tri_id[iy[y, x], ix[y, x]]
        a, b, c = head.triangles[f]
        w = np.clip(_barycentric(np.array([[x + 0.5, y + 0.5]]), uv[a], uv[b], uv[c])[0], 0.0, None)
        tri_id[y, x], bary[y, x] = f, w / max(w.sum(), 1e-9)
    return tri_id, bary


def _barycentric(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Barycentric coordinates [N, 3] of 2D points p [N, 2] in the triangle (a, b, c) (all -1 if degenerate)."""
    v0, v1, v2 = b - a, c - a, p - a
    den = v0[0] * v1[1] - v1[0] * v0[1]
    if abs(den) < 1e-12:
        return np.full((len(p), 3), -1.0)
    w1 = (v2[:, 0] * v1[1] - v1[0] * v2[:, 1]) / den
    w2 = (v0[0] * v2[:, 1] - v2[:, 0] * v0[1]) / den
    return np.stack([1 - w1 - w2, w1, w2], axis=1)


def _hole_masks(obs: FaceObservation) -> dict[str, np.ndarray]:
    """bool [S, S] masks of the two eye openings and the mouth opening (inside the lid / inner-lip contours)."""
    import cv2

    def poly(upper, lower):
        pts = np.concatenate([obs.landmarks_px[list(upper)], obs.landmarks_px[list(lower[::-1])]])
        m = np.zeros((obs.size, obs.size), np.uint8)
        cv2.fillPoly(m, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
        return m.astype(bool)

    return {"eye_r": poly(topo.EYE_RIGHT_UPPER, topo.EYE_RIGHT_LOWER),
            "eye_l": poly(topo.EYE_LEFT_UPPER, topo.EYE_LEFT_LOWER),
            "mouth": poly(topo.LIP_UPPER_INNER, topo.LIP_LOWER_INNER)}


def _face_gaussians(obs, head, cam, tri_id, bary, config) -> BoundGaussians:
    """One Gaussian per face pixel (per `face_stride` block), bound to the triangle under it: the photo colour, a
    disc one pixel footprint wide on the triangle (slanted by the view angle), in units of the triangle scale k."""
    st = config.face_stride
    yy, xx = np.nonzero(tri_id[::st, ::st] >= 0)
    yy, xx = yy * st, xx * st
    tri, w = tri_id[yy, xx], bary[yy, xx]
    R, k = triangle_frames(head.face_photo, head.triangles)
    v = head.face_photo[head.triangles[tri]]                    # [N, 3, 3]
    means = np.einsum("nk,nkd->nd", w, v)
    rays = cam.rays(np.stack([xx + 0.5, yy + 0.5], axis=1))
    scales = slant_scales(R[tri][:, :, 2], rays, PIXEL_SIGMA * st * cam.metres_per_px(means), config.normal_thickness)
    colors = block_mean(obs.image, yy, xx, st)
    opac = np.clip(np.maximum(obs.mask[yy, xx], 0.98), 0, 1).astype(np.float32)
    return BoundGaussians(parent=tri.astype(np.int32), bary=w.astype(np.float32),
                          offset=np.zeros(len(tri), np.float32),
                          local_quat=np.tile(np.array([1, 0, 0, 0], np.float32), (len(tri), 1)),
                          local_scale=(scales / k[tri][:, None]).astype(np.float32), colors=colors, opacities=opac)


def _mouth_hole_gaussians(obs, head, cam, holes, tri_id) -> RigidGaussians:
    """Pixels inside the inner lips of the photo (teeth of a smile): on a plane just behind the lips."""
    yy, xx = np.nonzero(holes["mouth"] & (tri_id < 0))
    lips = head.face_photo[list(topo.LIP_UPPER_INNER + topo.LIP_LOWER_INNER)]
    z_plane = float(lips[:, 2].mean()) - 0.004
    dirs = cam.rays(np.stack([xx + 0.5, yy + 0.5], axis=1))
    t = (z_plane - cam.centre[2]) / np.where(np.abs(dirs[:, 2]) > 1e-6, dirs[:, 2], 1e-6)
    pts = cam.centre + t[:, None] * dirs
    y_mid = 0.5 * (head.face_photo[13, 1] + head.face_photo[14, 1])
    part = np.where(pts[:, 1] < y_mid, PART_JAW, PART_SKULL).astype(np.int8)
    normals = np.tile(np.array([0.0, 0.0, 1.0]), (len(yy), 1))
    return rigid_from_pixels(obs, cam, yy, xx, pts, normals, part, head, 1, 0.3)


def _body_gaussians(obs, head, cam, tri_id, bary, holes, config) -> RigidGaussians:
    """Hair, ears, neck, torso. Above the jaw line: on the skull ellipsoid where the ray hits it, else at the ray's
    closest approach to it (continuous with the silhouette, so big hair does not split off when the head turns).
    Below: the neck cylinder or the curved torso (`head.torso`), skinned so the torso stays still. Pixels on the person
    mask's edge are unmixed from the background plate (`matting.unmix_edges`: no fringe of the old background), and
    background the mask took in at its edge is dropped (`matting.background_like_edges`)."""
    st = config.body_stride
    fg = (obs.mask > 0.5) & (tri_id < 0) & ~holes["eye_r"] & ~holes["eye_l"] & ~holes["mouth"]
    yy, xx = np.nonzero(fg[::st, ::st])
    yy, xx = yy * st, xx * st
    dirs = cam.rays(np.stack([xx + 0.5 * st, yy + 0.5 * st], axis=1))
    t_shell, hit = head.volume.ray_hit(cam.centre, dirs)
    on_head = (cam.centre[1] + t_shell * dirs[:, 1]) > head.jaw_line_y
    toward_cam = -cam.R[2]                                     # head-frame direction towards the camera
    t_plane, _ = head.torso.ray_hit(cam.centre, dirs)          # the curved torso
    t_neck, on_neck = _ray_neck(cam.centre, dirs, head)
    t_body = np.where(on_neck & (t_neck < t_plane), t_neck, t_plane)
    t_shell = _continue_face_depth(obs, head, cam, tri_id, bary, yy + 0.5 * st, xx + 0.5 * st, dirs, t_shell)
    t = np.where(on_head, t_shell, t_body)
    pts = cam.centre + t[:, None] * dirs
    normals = _grid_normals(yy // st, xx // st, pts, on_head, head.volume.normals(*head.volume.angles(pts)),
                            toward_cam)
    # Part way towards the view: grazing discs at the skull's silhouette would otherwise project to streaks (a
    # visible seam in the hair) in the photo's view.
    # The neck and torso: discs along their surface (the neck cylinder's curve, the plane), so where the depth
    # steps from the neck to the torso plane they overlap instead of opening cracks when the view turns.
    body_n = _grid_normals(yy // st, xx // st, pts, ~on_head, np.broadcast_to(toward_cam, pts.shape), toward_cam)
    normals = np.where(on_head[:, None], normals + TOWARD_VIEW * toward_cam, body_n)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    part = np.where(on_head, PART_SKULL, PART_BODY).astype(np.int8)
    g = rigid_from_pixels(obs, cam, yy, xx, pts, normals, PART_BODY, head, st, config.normal_thickness,
                           opacity=np.clip(obs.mask[yy, xx], MIN_OPACITY, 1.0))
    from vasa3d.avatar.avatar import inpaint_background        # (avatar imports this module)

    plate = inpaint_background(obs.image, obs.mask)
    g.colors, g.opacities = unmix_edges(obs.image, obs.mask, plate, yy, xx, g.colors, g.opacities)
    g.part = part
    g.skin = np.where(on_head, 1.0, head.skin_weights(pts)).astype(np.float32)
    keep = ~background_like_edges(obs.image, obs.mask, plate, yy, xx, block_mean(obs.image, yy, xx, st))
    keep &= ~on_head | (g.opacities >= MIN_HAIR_EDGE_OPACITY)
    return RigidGaussians(**{f.name: getattr(g, f.name)[keep] for f in fields(RigidGaussians)})


def _face_region(tri_id: np.ndarray, holes: dict[str, np.ndarray]) -> np.ndarray:
    """bool [S, S]: the face mesh's pixels with the eye and mouth openings inside it (what completed surface
    behind the face must never show through)."""
    import scipy.ndimage as ndi

    region = ndi.binary_fill_holes(tri_id >= 0)
    for m in holes.values():
        region |= m
    return region


def _inside_mask(obs: FaceObservation, cam: Camera, points: np.ndarray) -> np.ndarray:
    """bool [N]: head-frame points [N, 3] that project at least `INTERIOR_MARGIN` of the crop inside the person
    mask (their colour is the person's, not the background blended in at the mask's edge)."""
    import scipy.ndimage as ndi

    depth = ndi.distance_transform_edt(obs.mask > 0.5)
    px = np.clip(np.round(cam.project(points)).astype(int), 0, obs.size - 1)
    return depth[px[:, 1], px[:, 0]] > INTERIOR_MARGIN * obs.size


def _grid_normals(gy: np.ndarray, gx: np.ndarray, pts: np.ndarray, valid: np.ndarray, fallback: np.ndarray,
                  toward_cam: np.ndarray) -> np.ndarray:
    """Unit normals [N] of the surface through `pts` [N, 3], the points of the pixel grid cells (gy, gx) [N]: the cross
    product of its finite differences across and down the grid among `valid` points (one-sided at an edge),
    oriented towards the camera; `fallback` [N, 3] where a direction has no neighbour."""
    H, W = int(gy.max()) + 2, int(gx.max()) + 2
    grid = np.full((H + 1, W + 1, 3), np.nan)
    grid[gy[valid], gx[valid]] = pts[valid]

    def diff(dy, dx):
        fwd = grid[np.minimum(gy + dy, H), np.minimum(gx + dx, W)] - pts
        back = pts - grid[np.maximum(gy - dy, 0), np.maximum(gx - dx, 0)]
        d = np.where(np.isnan(fwd), back, np.where(np.isnan(back), fwd, 0.5 * (fwd + back)))
        return d

    n = np.cross(diff(0, 1), diff(1, 0))
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    ok = np.isfinite(norm[:, 0]) & (norm[:, 0] > 1e-12)
    n = np.where(ok[:, None], n / np.where(ok[:, None], norm, 1.0), fallback)
    return np.where((n @ toward_cam < 0)[:, None], -n, n)


def _continue_face_depth(obs, head, cam, tri_id, bary, py, px, dirs, t_shell) -> np.ndarray:
    """Ray parameters [N] for head pixels at (py, px) [N]: the skull shell's `t_shell` [N] far from the face, blended
    (smoothstep over `FACE_BLEND` of the crop, or over as many pixels as the depth step between them is deep, so
    the blend is never steeper than about 45 degrees: a steeper wall of pixels shows as stripes when the head
    turns) into the depth of the nearest face-mesh pixel next to it, so hair and ears meet the face's edge
    without a crack when the head turns."""
    import scipy.ndimage as ndi

    face = tri_id >= 0
    dist, (iy, ix) = ndi.distance_transform_edt(~face, return_indices=True)
    yi = np.clip(py.astype(int), 0, obs.size - 1)
    xi = np.clip(px.astype(int), 0, obs.size - 1)
    ny, nx = iy[yi, xi], ix[yi, xi]
    corners = head.face_photo[head.triangles[tri_id[ny, nx]]]          # [N, 3, 3]
    p_face = np.einsum("nk,nkd->nd", bary[ny, nx], corners)
    z_face = (p_face @ cam.R.T + cam.t)[:, 2]
    t_face = z_face / (dirs @ cam.R[2])
    gap_px = np.abs(t_shell - t_face) * cam.focal / np.maximum(z_face, 1e-6)    # the depth step, in pixels
    w = np.clip(dist[yi, xi] / np.maximum(FACE_BLEND * obs.size, gap_px), 0.0, 1.0)
    w = w * w * (3 - 2 * w)
    return (1 - w) * t_face + w * t_shell


def _ray_neck(origin: np.ndarray, dirs: np.ndarray, head: HeadModel):
    """First hit (t [N], hit [N]) of rays with the neck: a vertical elliptic cylinder under the skull."""
    c = np.array([head.shell_centre[0], 0.0, NECK_CENTRE_Z_M])
    r = np.array([NECK_RADII_M[0], 1e6, NECK_RADII_M[1]])    # infinite along y
    return ray_ellipsoid(origin, dirs, c, r)


