"""The head model and its ARKit-named expression rig."""

from __future__ import annotations

import numpy as np
import pytest

from vasa3d.arkit import ARKIT_BLENDSHAPES, MOTION_BLENDSHAPES
from vasa3d.head.rig import GAZE_SHAPES, JAW_SHIFTS_M
from vasa3d.head import topology as topo


@pytest.fixture(scope="module")
def head(obama_avatar):
    return obama_avatar.head


def test_triangles_are_the_852_face_mesh_triangles():
    tris = topo.face_triangles()
    assert tris.shape == (852, 3) and len({tuple(t) for t in tris}) == 852


def test_rig_supports_every_motion_name_and_rejects_unknown_names(head):
    assert set(MOTION_BLENDSHAPES) <= set(head.rig.supported)
    with pytest.raises(ValueError, match="mouthSmileLeftt"):
        head.rig.deform(head.face_rest, ("mouthSmileLeftt",), np.ones(1))


REGIONAL = [n for n in ARKIT_BLENDSHAPES if n not in ("jawOpen", "tongueOut") + GAZE_SHAPES + tuple(JAW_SHIFTS_M)]


def test_rig_covers_the_arkit_face_and_says_what_it_lacks(head):
    assert set(ARKIT_BLENDSHAPES) - set(head.rig.supported) == {"tongueOut"}


@pytest.mark.parametrize("name", REGIONAL)
def test_each_shape_moves_only_its_region(head, name):
    delta = head.rig.deltas[head.rig.names.index(name)]
    moved = np.linalg.norm(delta, axis=1) > 0
    assert moved.any(), f"{name} moves nothing"
    # A shape's region is local: it never reaches the far side of the face.
    far = np.linalg.norm(head.face_rest - head.face_rest[moved].mean(axis=0), axis=1) > 0.08
    assert not (moved & far).any()
    assert np.abs(delta[~moved]).max(initial=0.0) == 0.0


@pytest.mark.parametrize("name", list(JAW_SHIFTS_M))
def test_jaw_shifts_move_only_the_jaw(head, name):
    delta = head.rig.deltas[head.rig.names.index(name)]
    moved = np.linalg.norm(delta, axis=1) > 0
    assert moved.any() and not (moved & (head.rig.jaw_weights == 0)).any()
    for i in (168, 6, 33, 133, 263, 362, 10, 13, 0):      # nose bridge, eye corners, forehead, upper lip
        assert not moved[i]


def test_left_shapes_move_the_subjects_left_side(head):
    for name in ("mouthSmileLeft", "eyeBlinkLeft", "browOuterUpLeft"):
        d = np.linalg.norm(head.rig.deltas[head.rig.names.index(name)], axis=1)
        assert head.face_rest[d > 1e-4, 0].mean() > 0.01, name       # +x = subject's left


def test_jaw_open_parts_the_lips_and_keeps_the_upper_face_still(head):
    opened = head.rig.deform(head.face_rest, ("jawOpen",), np.ones(1))
    gap0 = head.face_rest[13, 1] - head.face_rest[14, 1]
    gap1 = opened[13, 1] - opened[14, 1]
    face_h = head.face_rest[10, 1] - head.face_rest[152, 1]
    assert gap1 - gap0 > 0.12 * face_h
    for i in (168, 6, 33, 133, 263, 362, 10):      # nose bridge, eye corners, forehead
        np.testing.assert_allclose(opened[i], head.face_rest[i], atol=1e-7)
    assert opened[152, 1] < head.face_rest[152, 1] - 0.01   # the chin drops


@pytest.mark.parametrize("portrait", ["p02_obama_official.jpg", "p06_grid_older_woman.png"])
def test_jaw_open_parts_the_lips_by_the_same_share_of_any_face(portrait):
    """The jaw angle is fitted per face: a long chin or thick lips still open to JAW_OPEN_GAP face heights."""
    from conftest import data
    from vasa3d.face import analyze_face
    from vasa3d.head import build_head
    from vasa3d.head.rig import JAW_OPEN_GAP, JAW_OPEN_RANGE_RAD
    from vasa3d.io import read_image

    head = build_head(analyze_face(read_image(data(f"portraits/{portrait}"))).landmarks_head)
    opened = head.rig.deform(head.face_rest, ("jawOpen",), np.ones(1))
    face_h = head.face_rest[10, 1] - head.face_rest[152, 1]
    gap = (opened[13, 1] - opened[14, 1]) / face_h
    assert abs(gap - JAW_OPEN_GAP) < 0.005, gap
    assert JAW_OPEN_RANGE_RAD[0] <= head.rig.jaw_open_rad <= JAW_OPEN_RANGE_RAD[1]
    restored = type(head).from_npz_dict(head.to_npz_dict())
    assert restored.rig.jaw_open_rad == pytest.approx(head.rig.jaw_open_rad)


def test_blink_closes_the_lids(head):
    closed = head.rig.deform(head.face_rest, ("eyeBlinkLeft", "eyeBlinkRight"), np.ones(2))
    for up, lo in ((159, 145), (386, 374)):
        before = head.face_rest[up, 1] - head.face_rest[lo, 1]
        after = closed[up, 1] - closed[lo, 1]
        assert after < 0.25 * before


def test_skin_weights_keep_the_torso_still(head):
    pts = np.array([[0, 0.05, 0], [0, head.jaw_line_y - 0.03, 0], [0, head.jaw_line_y - 0.5, 0]], np.float32)
    w = head.skin_weights(pts)
    assert w[0] == 1.0 and 0.0 < w[1] < 1.0 and w[2] == 0.0


def test_mouth_close_closes_an_open_jaw_and_does_nothing_alone(head):
    rig, rest = head.rig, head.face_rest
    np.testing.assert_array_equal(rig.deform(rest, ("mouthClose",), np.ones(1)), rest)
    opened = rig.deform(rest, ("jawOpen",), np.ones(1))
    closed = rig.deform(rest, ("jawOpen", "mouthClose"), np.ones(2))
    gap = lambda v: v[13, 1] - v[14, 1]  # noqa: E731  upper minus lower inner lip, metres
    assert gap(opened) > 0.015 and abs(gap(closed) - gap(rest)) < 0.25 * gap(opened)


def test_head_volume_outline_is_the_silhouette_profile_and_rays_land_on_it():
    from vasa3d.head.volume import HeadVolume, azimuths, ellipse_radius

    skull = np.float32([0.075, 0.1, 0.1])
    alpha = azimuths(180)
    hair = np.where(np.abs(alpha - 2.3) < 0.5, 0.05, 0.0)        # big hair up and to the photo's left
    lateral = ellipse_radius(alpha, 0.075, 0.1) + hair
    vol = HeadVolume.from_silhouette(np.zeros(3), np.eye(3), skull, lateral)
    rim = vol.surface(alpha, np.full(180, np.pi / 2))
    np.testing.assert_allclose(np.linalg.norm(rim[:, :2], axis=1), lateral, rtol=1e-5)
    assert vol.back[np.argmin(np.abs(alpha - 2.3))] > vol.back[0] + 0.02      # the big hair is deep too
    target = vol.surface(np.float64([0.3, 2.3, 4.0]), np.float64([0.4, 1.0, 1.3]))
    origin = np.float64([0.0, 0.0, 1.2])
    dirs = (target - origin) / np.linalg.norm(target - origin, axis=1, keepdims=True)
    t, hit = vol.ray_hit(origin, dirs)
    assert hit.all()
    landed = origin + t[:, None] * dirs
    np.testing.assert_allclose(vol.surface(*vol.angles(landed)), landed, atol=2e-3)
    pts, normals, spacing = vol.samples(2000)
    np.testing.assert_allclose(vol.surface(*vol.angles(pts)), pts, atol=1e-6)
    assert (np.einsum("ij,ij->i", normals, pts) > 0).all() and (spacing > 0).all()


def test_head_volume_round_trips_and_older_models_get_the_skull(head):
    from vasa3d.head.model import HeadModel

    d = head.to_npz_dict()
    again = HeadModel.from_npz_dict(d)
    np.testing.assert_array_equal(again.volume.lateral, head.volume.lateral)
    old = HeadModel.from_npz_dict({k: v for k, v in d.items() if "volume" not in k})
    top = old.volume.surface(np.float64([np.pi / 2]), np.float64([np.pi / 2]))[0]
    np.testing.assert_allclose(top, head.shell_centre + [0, head.shell_radii[1], 0], atol=1e-6)


def test_torso_is_a_curved_body_rays_land_on():
    from vasa3d.head.volume import TorsoBody

    torso = TorsoBody.fitted(0.0, np.float32([1.0, 0.0, 0.1]), 0.2)
    assert torso.half_depth < torso.half_width and abs(torso.right[1]) < 1e-7
    origin = np.float64([0.0, 0.0, 1.2])
    target = torso.surface(np.float64([-1.0, 0.0, 0.8]), np.float64([-0.2, -0.3, -0.25]))
    dirs = (target - origin) / np.linalg.norm(target - origin, axis=1, keepdims=True)
    t, hit = torso.ray_hit(origin, dirs)
    assert hit.all()
    np.testing.assert_allclose(origin + t[:, None] * dirs, target, atol=1e-6)
    front, side = torso.surface(np.float64([0.0, 1.5]), np.float64([-0.3, -0.3]))
    assert front @ torso.forward > side @ torso.forward + 0.05         # the sides curve back
