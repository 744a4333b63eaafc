"""Face analysis on real portraits and edge inputs."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import data, with_shared_originals
from vasa3d.errors import InputError
from vasa3d.face import analyze_face
from vasa3d.io.image import read_image

PORTRAITS = ["p01_astronaut_eileen_collins.jpg", "p02_obama_official.jpg", "p03_biden_official.jpg",
             "p04_einstein_bw.jpg", "p05_grid_man_moustache.png", "p06_grid_older_woman.png",
             "p07_grid_man_glasses.png"]
"""In tests/data; the full-size originals in ../shared/data (p01 there as .png) are checked too where present."""
ORIGINALS = [n.replace("p01_astronaut_eileen_collins.jpg", "p01_astronaut_eileen_collins.png") for n in PORTRAITS]


@pytest.mark.parametrize("path", with_shared_originals([f"portraits/{n}" for n in PORTRAITS],
                                                       [f"portraits/{n}" for n in ORIGINALS]))
def test_portraits_give_a_frontal_metric_face(path):
    obs = analyze_face(read_image(path))
    S = obs.size
    assert obs.image.shape == (S, S, 3) and obs.mask.shape == (S, S)
    # The face sits in the middle of the crop and the mask covers it.
    nose = obs.landmarks_px[1]
    assert 0.3 * S < nose[0] < 0.7 * S and 0.3 * S < nose[1] < 0.75 * S
    assert obs.mask[int(nose[1]), int(nose[0])] > 0.5
    # Metric landmarks reproject onto the pixel landmarks through K.
    p = obs.landmarks_cam @ obs.K.T
    np.testing.assert_allclose(p[:, :2] / p[:, 2:], obs.landmarks_px, atol=1e-2)
    # These portraits look at the camera: the head frame is near the camera's (y and z flipped).
    R = obs.T_cam_from_head[:3, :3]
    assert R[0, 0] > 0.95 and R[1, 1] < -0.95 and R[2, 2] < -0.95
    # Metric scale: face height (forehead to chin) of an adult, 14-22 cm.
    lm = obs.landmarks_head
    assert 0.14 < lm[10, 1] - lm[152, 1] < 0.22
    assert 0.6 < obs.T_cam_from_head[2, 3] < 2.5


def test_no_face_raises_input_error():
    rng = np.random.default_rng(0)
    sky = np.tile(np.linspace(0.2, 0.9, 256, dtype=np.float32)[:, None, None], (1, 256, 3))
    sky += rng.normal(0, 0.02, sky.shape).astype(np.float32)
    with pytest.raises(InputError, match="no face"):
        analyze_face(np.clip(sky, 0, 1))


def test_tiny_face_is_rejected_with_a_size_message():
    import cv2

    img = read_image(data("portraits/p01_astronaut_eileen_collins.jpg"))
    small = cv2.resize(img, (96, 96), interpolation=cv2.INTER_AREA)
    with pytest.raises(InputError, match="too small|no face"):
        analyze_face(small)


def test_grayscale_photo_works():
    img = read_image(data("portraits/p02_obama_official.jpg"))
    gray = np.repeat(img.mean(axis=2, keepdims=True), 3, axis=2)
    obs = analyze_face(gray)
    assert np.allclose(obs.image[..., 0], obs.image[..., 1])
    assert obs.landmarks_px.shape == (478, 2)


@pytest.mark.parametrize("shape,box", [((400, 300), (-50.0, -80.0, 380.0)), ((400, 300), (200.0, 250.0, 120.0)),
                                       ((100, 900), (10.0, 10.0, 60.0))])
def test_the_crop_stays_inside_the_photo(shape, box):
    from vasa3d.face.analysis import inside_photo

    x0, y0, side = inside_photo(box, shape)
    H, W = shape
    assert 0 <= x0 and x0 + side <= W and 0 <= y0 and y0 + side <= H
    assert side == pytest.approx(min(box[2], 0.99 * min(H, W)))          # shrunk only when the photo is narrower


def test_a_tight_photo_is_framed_inside_itself_and_the_render_matches_it(obama_path):
    """The frame at yaw 0 maps into the photo (feature matching, `eval.framing`): no smeared border outside it."""
    from eval.framing import frame_overhang
    from vasa3d.avatar import Avatar
    from vasa3d.avatar.view import neutral_pose, render_frame

    photo = read_image(obama_path)
    H, W = photo.shape[:2]
    tight = np.ascontiguousarray(photo[int(0.08 * H):int(0.55 * H), int(0.25 * W):int(0.75 * W)])
    obs = analyze_face(tight)
    x0, y0, side = obs.crop_box
    assert x0 >= 0 and y0 >= 0 and x0 + side <= tight.shape[1] and y0 + side <= tight.shape[0]
    frame = render_frame(Avatar.from_observation(obs), neutral_pose(), 0.0, 0.0, 256)
    overhang = frame_overhang(frame, (tight * 255 + 0.5).astype(np.uint8))
    assert overhang is not None and overhang < 0.005


def test_a_crop_at_its_own_size_stays_sharp_and_a_shrunk_one_does_not_alias():
    """_crop_square: taken at 0.9996 of its size, a one-pixel checkerboard keeps its contrast (no anti-alias blur
    for a shrink that needs none); shrunk to 0.3, the same pattern averages out (prefiltered) instead of aliasing
    into stripes."""
    from vasa3d.face.analysis import _crop_square

    yy, xx = np.mgrid[:300, :300]
    board = np.repeat(((yy + xx) % 2).astype(np.float32)[..., None], 3, axis=2)
    near = _crop_square(board, (10.0, 10.0, 200.08), 200)
    assert near[20:-20, 20:-20].std() > 0.4, near.std()
    small = _crop_square(board, (0.0, 0.0, 300.0), 90)
    assert abs(float(small.mean()) - 0.5) < 0.02 and small[5:-5, 5:-5].std() < 0.05, small.std()
