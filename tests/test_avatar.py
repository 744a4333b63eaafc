"""Avatar building, binding, posing, save/load and the 3DGS .ply export."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vasa3d.avatar import Avatar, FramePose
from vasa3d.avatar.types import PART_SKULL, Binding, Fade
from vasa3d.face import analyze_face
from vasa3d.io.image import read_image
from vasa3d.render import rasterize
from vasa3d.render.cameras import orbit_viewmat


def _pose(names=(), coeffs=(), rot=(0, 0, 0), gaze=(0, 0)):
    return FramePose(names=tuple(names), coeffs=np.asarray(coeffs, np.float32), head_rotation=np.asarray(rot),
                     head_translation=np.zeros(3), gaze=np.asarray(gaze))


def _render(avatar, g, yaw=0.0):
    t = [torch.from_numpy(np.ascontiguousarray(a)) for a in (g.means, g.quats, g.scales, g.opacities, g.colors)]
    out = rasterize(*t, torch.from_numpy(orbit_viewmat(avatar.T_cam_from_head, yaw, 0.0))[None],
                    torch.from_numpy(avatar.K)[None], avatar.size, avatar.size)
    return out.rgb[0].numpy() + (1 - out.alpha[0].numpy()) * avatar.background, out.alpha[0, ..., 0].numpy()


def test_rest_render_reproduces_the_photo(obama_path, obama_avatar):
    obs = analyze_face(read_image(obama_path))
    rgb, alpha = _render(obama_avatar, obama_avatar.rest())
    person = obs.mask > 0.5
    assert alpha[person].mean() > 0.97                       # no holes in the person
    err = np.abs(rgb - obs.image)[person].mean()
    assert err < 0.04, f"mean abs error {err:.3f} on the person"
    mse = ((rgb - obs.image) ** 2).mean()
    assert 10 * np.log10(1.0 / mse) > 24.0                   # PSNR of the whole frame, dB


def test_bound_gaussians_follow_the_mesh_exactly(obama_avatar):
    av = obama_avatar
    pose = _pose(("jawOpen", "mouthSmileLeft"), (0.7, 0.5))
    g = av.pose(pose)
    verts = av.head.rig.deform(av.head.face_rest, pose.names, pose.coeffs)
    p = av.params
    face = np.flatnonzero(p.parent >= 0)
    expected = np.einsum("nk,nkd->nd", p.bary[face], verts[av.head.triangles[p.parent[face]]])
    on_skin = ~p.local_pos[face].any(axis=1)           # lashes sit in front of the lids, the skirt below
    assert on_skin.mean() > 0.8
    np.testing.assert_allclose(g.means[face][on_skin], expected[on_skin], atol=1e-6)
    lash = p.fade[face] != Fade.NONE
    lift = np.linalg.norm(g.means[face][lash] - expected[lash], axis=1)
    assert lash.sum() > 50 and (lift > 1e-4).all() and (lift < 1e-3).all()
    rest = av.rest()
    skull = p.select(Binding.SKULL)
    np.testing.assert_array_equal(g.means[skull], rest.means[skull])   # expressions leave the skull alone


def test_head_rotation_leaves_the_torso_in_place(obama_avatar):
    av = obama_avatar
    g = av.pose(_pose(rot=(0.0, 0.4, 0.0)))
    rest = av.rest()
    torso = np.flatnonzero(av.params.skin == 0.0)
    assert len(torso) > 1000
    np.testing.assert_array_equal(g.means[torso], rest.means[torso])
    face = av.params.parent >= 0
    moved = np.linalg.norm(g.means[face] - rest.means[face], axis=1)
    assert moved.mean() > 0.01


def test_open_mouth_shows_the_interior_not_the_background(obama_avatar):
    av = obama_avatar
    g = av.pose(_pose(("jawOpen",), (1.0,)))
    _, alpha = _render(av, g)
    verts = av.head.rig.deform(av.head.face_rest, ("jawOpen",), np.ones(1))
    p = (verts @ av.T_cam_from_head[:3, :3].T + av.T_cam_from_head[:3, 3]) @ av.K.T
    px = p[:, :2] / p[:, 2:]
    top, bottom = px[13], px[14]
    column = alpha[int(top[1]) + 2:int(bottom[1]) - 1, int(0.5 * (top[0] + bottom[0]))]
    assert len(column) > 10 and column.min() > 0.98


def test_save_load_round_trip_and_ply(tmp_path, obama_avatar):
    path = obama_avatar.save(tmp_path / "a.npz")
    loaded = Avatar.load(path)
    pose = _pose(("jawOpen", "eyeBlinkLeft"), (0.4, 1.0), rot=(0.1, 0.2, 0.0), gaze=(0.1, 0.0))
    a, b = obama_avatar.pose(pose), loaded.pose(pose)
    np.testing.assert_allclose(a.means, b.means, atol=1e-6)
    np.testing.assert_allclose(a.colors, b.colors, atol=1e-6)
    ply = obama_avatar.to_ply(tmp_path / "a.ply")
    head = ply.read_bytes()[:1000].split(b"end_header\n")[0].decode()
    assert f"element vertex {obama_avatar.num_gaussians}" in head and "property float rot_3" in head
    n_props = head.count("property float")
    assert ply.stat().st_size == len(head) + len("end_header\n") + 4 * n_props * obama_avatar.num_gaussians
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npz", "a.ply"]   # no temporary files left


def test_loading_a_non_avatar_is_a_clear_error(tmp_path):
    import pytest

    from vasa3d.errors import InputError

    bad = tmp_path / "x.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="avatar"):
        Avatar.load(bad)


def test_eye_look_turns_one_eyeball_and_jaw_left_moves_the_lower_teeth(obama_avatar):
    av = obama_avatar
    rest = av.rest()
    look = av.pose(_pose(("eyeLookOutLeft",), (1.0,)))
    moved = np.linalg.norm(look.means - rest.means, axis=1) > 1e-6
    assert moved[av.params.select(Binding.EYE_L)].all()
    assert not moved[av.params.select(Binding.EYE_R)].any()
    shifted = av.pose(_pose(("jawLeft",), (1.0,)))
    jaw = av.params.select(Binding.JAW)
    dx = shifted.means[jaw, 0] - rest.means[jaw, 0]
    np.testing.assert_allclose(dx, 0.006, atol=1e-6)       # the subject's left is +x


def test_turned_views_show_no_gap_at_the_neck(obama_avatar):
    """Points on the neck facing the orbited camera, just under the jaw line, are covered (alpha ~ 1)."""
    from vasa3d.avatar.build import NECK_CENTRE_Z_M, NECK_RADII_M

    av = obama_avatar
    for yaw in (-0.52, 0.52):
        g = av.rest()
        t = [torch.from_numpy(np.ascontiguousarray(a)) for a in (g.means, g.quats, g.scales, g.opacities, g.colors)]
        viewmat = orbit_viewmat(av.T_cam_from_head, yaw, 0.0)
        out = rasterize(*t, torch.from_numpy(viewmat)[None], torch.from_numpy(av.K)[None], av.size, av.size)
        alpha = out.alpha[0, ..., 0].numpy()
        for side in (-0.6, 0.0, 0.6):               # across the neck as the camera sees it
            a = yaw + side
            for dy in (0.01, 0.03, 0.05):
                p = np.array([NECK_RADII_M[0] * np.sin(a), av.head.jaw_line_y - dy, NECK_CENTRE_Z_M +
                              NECK_RADII_M[1] * np.cos(a)])
                q = av.K @ (viewmat[:3, :3] @ p + viewmat[:3, 3])
                x, y = (q[:2] / q[2]).astype(int)
                assert alpha[y, x] > 0.98, (yaw, side, dy, alpha[y, x])


def test_turned_views_show_the_body_down_to_the_frame_edge(obama_avatar):
    """Yaw +-30 degrees: the bottom rows of the frame under the torso stay covered (no wedge of background under a
    card cut at the photo's edge)."""
    av = obama_avatar
    g = av.rest()
    t = [torch.from_numpy(np.ascontiguousarray(a)) for a in (g.means, g.quats, g.scales, g.opacities, g.colors)]
    for yaw in (-0.52, 0.52):
        viewmat = torch.from_numpy(orbit_viewmat(av.T_cam_from_head, yaw, 0.0))[None]
        alpha = rasterize(*t, viewmat, torch.from_numpy(av.K)[None], av.size, av.size).alpha[0, ..., 0].numpy()
        S = av.size
        bottom = alpha[S - 4:, S // 4:3 * S // 4]
        assert (bottom > 0.95).mean() > 0.98, (yaw, float((bottom > 0.95).mean()))


def test_head_volume_is_shaped_by_the_person_mask(obama_path, obama_avatar):
    """The head volume's outline, seen from the photo camera, follows the person mask above the ears: its rim lies
    on the person, and a little way out from it is background."""
    from vasa3d.avatar.lift import Camera

    obs = analyze_face(read_image(obama_path))
    cam, vol = Camera(obs), obama_avatar.head.volume
    alpha = np.linspace(0.35, np.pi - 0.35, 40)
    rim = vol.surface(alpha, np.full(40, np.pi / 2))

    def on_person(points):
        px = np.clip(np.round(cam.project(points)).astype(int), 0, obs.size - 1)
        return obs.mask[px[:, 1], px[:, 0]] > 0.5

    out = vol.centre + 1.12 * (rim - vol.centre)
    assert on_person(rim).all()
    assert (~on_person(out)).mean() > 0.8


def test_background_the_mask_took_in_at_its_edge_is_found():
    from vasa3d.avatar.matting import background_like_edges

    S = 200                                                          # the band is 6 px
    yy, xx = np.mgrid[:S, :S]
    r = np.hypot(yy - 100, xx - 100)
    person, back = np.float32([0.3, 0.2, 0.1]), np.float32([0.8, 0.85, 0.9])
    image = np.where((r < 60)[..., None], person, back).astype(np.float32)
    mask = np.clip(64 - r, 0, 1).astype(np.float32)                 # 4 px too generous
    plate = np.broadcast_to(back, image.shape).astype(np.float32)
    ys, xs = np.nonzero(mask > 0.5)
    flagged = background_like_edges(image, mask, plate, ys, xs, image[ys, xs])
    assert flagged[r[ys, xs] > 60.5].all() and not flagged[r[ys, xs] < 59.5].any()


def test_pose_and_expressions_commands(tmp_path, obama_path, obama_avatar, capsys):
    from vasa3d.cli import main
    from vasa3d.io import read_image

    out = tmp_path / "pose.png"
    assert main(["pose", str(obama_path), "-o", str(out), "--set", "jawOpen=1", "--background", "0,255,0",
                 "--size", "256"]) == 0
    img = read_image(out)
    assert img.shape == (256, 256, 3) and np.allclose(img[0, 0], [0, 1, 0], atol=0.01)   # the chosen background
    assert main(["pose", str(obama_path), "-o", str(tmp_path / "bad.png"), "--set", "jawOpne=1"]) == 2
    assert "jawOpne" in capsys.readouterr().err and not (tmp_path / "bad.png").exists()
    sheet = tmp_path / "sheet.png"
    assert main(["expressions", str(obama_path), "-o", str(sheet), "--tile", "48"]) == 0
    rows = -(-(len(obama_avatar.head.rig.supported) + 1) // 4)
    assert read_image(sheet).shape == (rows * (48 + 16), 4 * 3 * 48, 3)



# ---- What an independent tracker (MediaPipe Face Mesh) sees on renders of the posed avatar -------------------------

NOSE_BRIDGE_AND_EYE_CORNERS = (168, 6, 33, 133, 263, 362)


@pytest.fixture(scope="module")
def tracker():
    import mediapipe as mp

    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as fm:
        def track(u8: np.ndarray) -> np.ndarray:
            """Landmarks [478, 2] in pixels of a uint8 RGB render (fails the test when no face is found)."""
            result = fm.process(np.ascontiguousarray(u8))
            assert result.multi_face_landmarks, "the tracker finds no face in the render"
            h, w = u8.shape[:2]
            return np.array([[p.x * w, p.y * h] for p in result.multi_face_landmarks[0].landmark])
        yield track


def _frame(avatar, names=(), coeffs=(), background=(0.5, 0.5, 0.5), size=512, rot=(0, 0, 0), yaw=0.0):
    from vasa3d.avatar.view import render_frame

    return render_frame(avatar, _pose(names, coeffs, rot=rot), yaw, 0.0, size, background=background)


def test_jaw_open_opens_the_lips_and_keeps_the_upper_face_still_on_the_render(obama_avatar, tracker):
    rest, opened = tracker(_frame(obama_avatar)), tracker(_frame(obama_avatar, ("jawOpen",), (1.0,)))
    face_h = np.linalg.norm(rest[152] - rest[10])
    gap = lambda lm: (lm[14, 1] - lm[13, 1]) / face_h  # noqa: E731  inner lips, lower minus upper (y down)
    assert abs(gap(rest)) < 0.03 and gap(opened) >= 0.12, (gap(rest), gap(opened))
    drift = np.linalg.norm(opened[list(NOSE_BRIDGE_AND_EYE_CORNERS)] - rest[list(NOSE_BRIDGE_AND_EYE_CORNERS)], axis=1)
    assert drift.max() < 2.0, drift


def test_blink_closes_both_eyes_on_the_render(obama_avatar, tracker):
    rest = tracker(_frame(obama_avatar))
    closed = tracker(_frame(obama_avatar, ("eyeBlinkLeft", "eyeBlinkRight"), (1.0, 1.0)))
    for upper, lower in ((159, 145), (386, 374)):          # subject's right, left eye: mid upper and lower lid
        ratio = (closed[lower, 1] - closed[upper, 1]) / (rest[lower, 1] - rest[upper, 1])
        assert ratio <= 0.25, (upper, ratio)


def test_open_mouth_shows_teeth_and_a_dark_cavity_never_the_background(obama_avatar, tracker):
    import cv2

    from vasa3d.head import topology as topo

    green = (0.0, 1.0, 0.0)
    frame = _frame(obama_avatar, ("jawOpen",), (1.0,), background=green)
    lm = tracker(frame)
    outline = np.concatenate([lm[list(topo.LIP_UPPER_INNER)], lm[list(topo.LIP_LOWER_INNER[::-1])]])
    inside = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(inside, [np.round(outline).astype(np.int32)], 1)
    pix = frame[inside > 0].astype(np.float32) / 255
    assert len(pix) > 500
    background = (pix[:, 1] > 0.6) & (pix[:, 0] < 0.4) & (pix[:, 2] < 0.4)
    assert background.mean() < 0.01, background.mean()
    luminance = pix.mean(axis=1)
    assert (luminance < 0.15).mean() > 0.15 and (luminance > 0.5).mean() > 0.03   # dark cavity, light teeth


def test_eye_look_moves_the_irises_and_opens_no_hole(obama_avatar, tracker):
    rest = tracker(_frame(obama_avatar))
    right = tracker(_frame(obama_avatar, ("eyeLookOutLeft", "eyeLookInRight"), (1.0, 1.0)))
    for iris in (468, 473):                                # both irises move to the viewer's right (+x)
        assert right[iris, 0] - rest[iris, 0] > 2.0, (iris, right[iris] - rest[iris])
    for names in (("eyeLookUpLeft", "eyeLookUpRight"), ("eyeLookOutLeft", "eyeLookOutRight")):
        for yaw in (-0.52, 0.0, 0.52):
            g = obama_avatar.pose(_pose(names, (1.0, 1.0)))
            _, alpha = _render(obama_avatar, g, yaw)
            corners = np.array([(rest[a] + rest[b]) / 2 for a, b in ((33, 133), (263, 362))]).astype(int)
            for x, y in corners:                           # the middle of each eye stays opaque
                assert alpha[y - 2:y + 3, x - 2:x + 3].min() > 0.98, (names, yaw)


def _silhouette_gap_share(alpha: np.ndarray, radius: int = 6) -> float:
    """Share of the person's silhouette (the render's alpha > 0.5, closed by a disc of `radius` px so a notch or
    crack narrower than the disc counts as inside, holes filled, edges eroded by 2 px) that is not opaque
    (alpha < 0.98): the background showing through a gap, e.g. between the jaw and the neck."""
    import scipy.ndimage as ndi

    yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    disc = xx ** 2 + yy ** 2 <= radius ** 2
    padded = np.pad(alpha > 0.5, radius + 2)
    closed = ndi.binary_closing(padded, disc)[radius + 2:-radius - 2, radius + 2:-radius - 2]
    core = ndi.binary_erosion(ndi.binary_fill_holes(closed), iterations=2)
    return float((core & (alpha < 0.98)).sum() / max(core.sum(), 1))


def test_turned_head_and_orbited_camera_show_no_gaps(obama_avatar):
    from vasa3d.render.cameras import scale_intrinsics

    av, size = obama_avatar, 256
    K = torch.from_numpy(scale_intrinsics(av.K, av.size, size))[None]
    for rot_y, yaw in ((0.52, 0.0), (-0.52, 0.0), (0.0, 0.52), (0.0, -0.52), (0.52, 0.52), (-0.52, -0.52)):
        g = av.pose(_pose(rot=(0.0, rot_y, 0.0)))
        t = [torch.from_numpy(np.ascontiguousarray(a)) for a in (g.means, g.quats, g.scales, g.opacities, g.colors)]
        out = rasterize(*t, torch.from_numpy(orbit_viewmat(av.T_cam_from_head, yaw, 0.0))[None], K, size, size)
        share = _silhouette_gap_share(out.alpha[0, ..., 0].numpy())
        assert share < 0.01, (rot_y, yaw, share)


def test_inner_lip_lines_and_lashes_have_their_own_bindings(obama_avatar):
    p = obama_avatar.params
    assert (p.binding == Binding.FACE_EDGE).sum() > 40                     # inner-lip lines: fixed size, no fade
    assert (p.fade[p.binding == Binding.FACE_EDGE] == Fade.NONE).all()
    lashes = p.fade != Fade.NONE
    assert lashes.sum() > 50 and (p.binding[lashes] == Binding.FACE_RIGID).all()
    assert ((p.parent >= 0) == np.isin(p.binding, [Binding.FACE, Binding.FACE_RIGID, Binding.FACE_EDGE])).all()


def _skull_samples(points: np.ndarray, colours: np.ndarray):
    from vasa3d.avatar.types import RigidGaussians

    n = len(points)
    return RigidGaussians(means=points.astype(np.float32), quats=np.tile(np.float32([1, 0, 0, 0]), (n, 1)),
                          scales=np.full((n, 3), 0.002, np.float32), colors=colours.astype(np.float32),
                          opacities=np.ones(n, np.float32), part=np.full(n, PART_SKULL, np.int8),
                          skin=np.ones(n, np.float32))


def test_unseen_hair_takes_the_crowns_hair_not_its_scalp(obama_avatar):
    from vasa3d.avatar.complete import hair_colours

    head = obama_avatar.head
    rng = np.random.default_rng(0)
    top = head.face_photo[10, 1]
    pts = np.stack([rng.uniform(-0.06, 0.06, 400), rng.uniform(top + 0.005, top + 0.05, 400), np.zeros(400)], 1)
    skin, hair = np.float32([0.80, 0.55, 0.45]), np.float32([0.15, 0.12, 0.10])
    lit_scalp = np.clip(skin * 1.12, 0, 1)                      # brighter than the face's median, same hue
    colours = np.where((np.arange(400) < 240)[:, None], lit_scalp, hair)
    got = np.median(hair_colours(head, _skull_samples(pts, colours), 500, skin=skin), axis=0)
    np.testing.assert_allclose(got, hair, atol=0.03)
    bald = np.median(hair_colours(head, _skull_samples(pts, np.tile(lit_scalp, (400, 1))), 500, skin=skin), axis=0)
    np.testing.assert_allclose(bald, lit_scalp, atol=0.03)          # a bald crown stays skin


def test_unseen_back_of_head_continues_the_sides_and_is_shaded(obama_path, obama_avatar):
    from vasa3d.avatar.complete import BACK_SHADE, back_of_head
    from vasa3d.avatar.lift import Camera
    from vasa3d.config import AvatarConfig

    from vasa3d.head.volume import HeadVolume

    head = dataclasses.replace(obama_avatar.head)     # a skull-ellipsoid volume, so the samples' places are known
    head.volume = HeadVolume.from_ellipsoid(head.shell_centre, head.shell_radii)
    cam = Camera(analyze_face(read_image(obama_path)))
    c, r = head.shell_centre, head.shell_radii
    rng = np.random.default_rng(1)
    crown = c + r * np.stack([rng.uniform(-0.5, 0.5, 300), np.full(300, 0.9), rng.uniform(0.0, 0.4, 300)], 1)
    ear = c + r * np.stack([np.full(60, 0.98), rng.uniform(-0.25, 0.05, 60), rng.uniform(-0.1, 0.1, 60)], 1)
    hair, red = np.float32([0.2, 0.2, 0.2]), np.float32([0.9, 0.1, 0.1])
    body = _skull_samples(np.concatenate([crown, ear]), np.concatenate([np.tile(hair, (300, 1)), np.tile(red, (60, 1))]))
    back = back_of_head(head, cam, body, np.float32([0.8, 0.6, 0.5]), AvatarConfig())
    u = (back.means - c) / r                                    # position on the unit sphere of the shell
    near_ear = (u[:, 0] > 0.9) & (np.abs(u[:, 1] + 0.1) < 0.1) & (u[:, 2] < 0.0) & (u[:, 2] > -0.3)
    far_back = u[:, 2] < -0.95
    assert near_ear.sum() > 5 and far_back.sum() > 5
    assert back.colors[near_ear, 0].mean() > 0.5 > back.colors[near_ear, 1].mean()     # the ear's colour continues
    np.testing.assert_allclose(back.colors[far_back].mean(axis=0), BACK_SHADE * hair, atol=0.04)  # hair, shaded


@pytest.mark.parametrize("portrait", ["p02_obama_official.jpg", "p06_grid_older_woman.png"])
def test_the_mouth_interior_shows_only_through_the_open_lips(portrait, tracker, monkeypatch):
    """Painted pure green, the cavity, teeth and tongue appear inside the inner-lip outline and nowhere else (the
    skin below the lip corners turns back with the jaw and must not uncover them)."""
    import cv2

    import vasa3d.avatar.build as build
    from conftest import data
    from vasa3d.head import topology as topo

    real = build.mouth_interior

    def painted(head, palette=None):
        g = real(head, palette)
        g.colors[:] = (0.0, 1.0, 0.0)
        return g

    monkeypatch.setattr(build, "mouth_interior", painted)
    avatar = Avatar.from_image(data(f"portraits/{portrait}"))
    for c in (0.5, 1.0):
        frame = _frame(avatar, ("jawOpen",), (c,), background=(1.0, 0.0, 1.0))
        lm = tracker(frame)
        outline = np.concatenate([lm[list(topo.LIP_UPPER_INNER)], lm[list(topo.LIP_LOWER_INNER[::-1])]])
        inside = np.zeros(frame.shape[:2], np.uint8)
        cv2.fillPoly(inside, [np.round(outline).astype(np.int32)], 1)
        inside = cv2.dilate(inside, np.ones((5, 5), np.uint8))            # the tracker's outline is a few px off
        px = frame.astype(np.int32)
        green = px[..., 1] - np.maximum(px[..., 0], px[..., 2]) > 40     # green showing, even partly
        assert green[inside > 0].sum() > 200, c
        assert green[inside == 0].sum() < 5, (c, int(green[inside == 0].sum()))


def test_inner_lip_lines_ride_on_the_lip_edges_and_keep_their_size(obama_avatar):
    """The smooth inner-lip edge: FACE_EDGE Gaussians along both inner contours stay on the contour when the jaw
    opens (bound to the lip triangles) and do not stretch with the lip skin."""
    from vasa3d.head import topology as topo

    av = obama_avatar
    sel = av.params.select(Binding.FACE_EDGE)
    assert len(sel) > 40
    rest, opened = av.pose(_pose()), av.pose(_pose(("jawOpen",), (1.0,)))
    verts = av.head.rig.deform(av.head.face_rest, ("jawOpen",), np.ones(1))
    for contour in (topo.LIP_UPPER_INNER, topo.LIP_LOWER_INNER):
        a, b = verts[list(contour[:-1])], verts[list(contour[1:])]           # contour segments [S, 3]
        p = opened.means[sel]
        t = np.clip(np.einsum("nsd,sd->ns", p[:, None] - a[None], b - a) / ((b - a) ** 2).sum(1)[None], 0, 1)
        d = np.linalg.norm(p[:, None] - (a[None] + t[..., None] * (b - a)[None]), axis=2).min(axis=1)
        assert (d < 0.0006).sum() >= len(sel) // 2 - 2                     # about half on each contour
    np.testing.assert_allclose(opened.scales[sel].max(axis=1), rest.scales[sel].max(axis=1), rtol=0.35)
    assert rest.scales[sel].max() < 0.0012


def test_a_greyscale_photo_gets_a_greyscale_mouth_and_a_colour_photo_a_photo_coloured_one(obama_path, obama_avatar):
    from vasa3d.avatar.complete import MOUTH_TONE, mouth_interior

    grey = read_image(obama_path).mean(axis=2, keepdims=True).repeat(3, axis=2)
    av = Avatar.from_image(grey)
    n = len(mouth_interior(av.head).colors)
    mouth = av.params.colors[-n:]                    # the builder appends the mouth interior last
    assert (mouth.max(axis=1) - mouth.min(axis=1)).max() < 1e-5
    assert mouth.max() > 0.5 and mouth.min() < 0.1   # light teeth, dark depth
    generic = mouth_interior(obama_avatar.head).colors
    built = obama_avatar.params.colors[-len(generic):]
    assert not np.allclose(built, generic, atol=0.02)
    assert set(MOUTH_TONE) == {"cavity", "back wall", "tongue", "upper teeth", "lower teeth"}


STRAY_LIMIT_M = 0.05          # no Gaussian may reach farther than this from the head model's surface
EXTENT_LIMIT_M = 0.03         # ... nor be stretched longer than this (3 sigma, half length)
STRONG_SHAPES = ("jawOpen", "jawForward", "jawLeft", "mouthSmileLeft", "mouthStretchRight", "mouthPucker",
                 "mouthFunnel", "mouthRollLower", "mouthShrugUpper", "cheekPuff", "browInnerUp", "eyeBlinkLeft",
                 "eyeLookUpRight", "noseSneerLeft")
HEAD_TURNS = ((0.0, 0.3), (0.0, -0.3), (0.2, 0.0), (-0.2, 0.0))      # (pitch, yaw) of the head, radians


def _audit_poses(names):
    yield from ((n, _pose((n,), (1.0,))) for n in names)
    yield from ((f"head {p:+.1f},{y:+.1f}", _pose(rot=(p, y, 0.0))) for p, y in HEAD_TURNS)


def _worst_reach(avatar, names):
    from vasa3d.avatar.audit import SurfaceAudit

    audit = SurfaceAudit(avatar)
    worst = []
    for label, pose in _audit_poses(names):
        r = audit.reach(pose)
        i, j = int(np.argmax(r.distance)), int(np.argmax(r.extent))
        worst.append((float(r.distance[i]), float(r.extent[j]), label, Binding(avatar.params.binding[i]).name))
    return worst


def test_no_gaussian_strays_from_the_head_surface(obama_avatar):
    worst = _worst_reach(obama_avatar, STRONG_SHAPES)
    assert max(w[0] for w in worst) < STRAY_LIMIT_M, max(worst)
    assert max(w[1] for w in worst) < EXTENT_LIMIT_M, max(worst, key=lambda w: w[1])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["p01_astronaut_eileen_collins.jpg", "p04_einstein_bw.jpg", "p06_grid_older_woman.png"])
def test_no_gaussian_of_any_portrait_strays_under_any_blendshape(name):
    from conftest import data

    avatar = Avatar.from_image(data(f"portraits/{name}"))
    worst = _worst_reach(avatar, avatar.head.rig.supported)
    assert max(w[0] for w in worst) < STRAY_LIMIT_M, max(worst)
    assert max(w[1] for w in worst) < EXTENT_LIMIT_M, max(worst, key=lambda w: w[1])
