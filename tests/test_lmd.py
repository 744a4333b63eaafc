"""Lip-landmark distance (eval/metrics/lmd.py): known answers on synthetic tracks, the choice of landmarks (never a
download), and face-alignment's 2D-FAN plumbing with a random-weight checkpoint built here."""

from __future__ import annotations

import importlib.util
import itertools
from pathlib import Path

import numpy as np
import pytest
from conftest import GRID_EXCERPT, data

from eval.metrics.crops import CROP_PX, CROP_SCALE
from eval.metrics.lmd import (FAN_MOUTH, FAN_WEIGHTS, MEDIAPIPE_LIPS, FanLips, MediaPipeLips, landmarker, lmd,
                              resolve, torch_checkpoints)
from eval.tracking import Track
from vasa3d.errors import InputError

needs_fan = pytest.mark.skipif(importlib.util.find_spec("face_alignment") is None,
                               reason="face-alignment (pip install --no-deps -r requirements-eval.txt) not installed")


def _track(points: np.ndarray) -> Track:
    return Track(points.astype(np.float32), np.ones(len(points), bool), 25.0, (256, 256))


def _faces(n: int, seed: int = 0) -> np.ndarray:
    """[n, 478, 3] landmarks spread over a 100 x 130 px box (so the crop side is 1.2 x 130 px)."""
    rng = np.random.default_rng(seed)
    p = np.column_stack([rng.uniform(80, 180, 478), rng.uniform(70, 200, 478), np.zeros(478)])
    p[0, :2], p[1, :2] = (80, 70), (180, 200)          # pin the extent
    return np.repeat(p[None], n, axis=0)


def test_lmd_is_zero_for_the_same_lips_and_scales_a_known_shift_to_the_face_crop():
    real = _track(_faces(4))
    lips = MediaPipeLips().lips(None, real)
    assert lips.shape == (4, len(MEDIAPIPE_LIPS), 2)
    identity = np.array([[1.0, 0, 0], [0, 1, 0]])
    assert lmd(lips, real, lips, identity).value == 0.0
    moved = lips + np.array([3.0, 4.0])                # 5 px in the frame
    expected = 5.0 * CROP_PX / (CROP_SCALE * 130.0)
    assert lmd(lips, real, moved, identity).value == pytest.approx(expected, rel=1e-9)
    # a method rendered at twice the size is mapped back by the framing transform before comparing
    half = np.array([[0.5, 0, 0], [0, 0.5, 0]])
    assert lmd(lips, real, 2.0 * lips, half).value == pytest.approx(0.0, abs=1e-9)


def test_lmd_skips_lost_frames_and_is_null_without_any():
    real = _track(_faces(3))
    lips = MediaPipeLips().lips(None, real)
    fake = lips + 1.0
    fake[1] = np.nan                                   # the method lost the face in frame 1
    identity = np.array([[1.0, 0, 0], [0, 1, 0]])
    assert lmd(lips, real, fake, identity).value == pytest.approx(np.sqrt(2) * CROP_PX / (CROP_SCALE * 130.0))
    fake[:] = np.nan
    assert lmd(lips, real, fake, identity).reason == "no frame with lips in both videos"


def test_landmarker_choice_never_downloads(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert isinstance(landmarker("auto"), MediaPipeLips)               # no weights cached: MediaPipe
    assert landmarker("mediapipe").name == "mediapipe"
    if importlib.util.find_spec("face_alignment") is not None:
        with pytest.raises(InputError, match=r"checkpoints/" + FAN_WEIGHTS.replace(".", r"\.")):
            landmarker("face-alignment")
    assert torch_checkpoints() == tmp_path / "torch" / "hub" / "checkpoints"
    import torch

    assert Path(torch.hub.get_dir()) / "checkpoints" == torch_checkpoints()     # the same rule as torch's
    with pytest.raises(InputError, match="unknown lip landmarks"):
        landmarker("dlib")
    assert not (tmp_path / "torch").exists() or not any((tmp_path / "torch").rglob("*.tar"))


def _random_fan(path, modules: int = 1) -> None:
    import torch
    from face_alignment.models import FAN

    torch.manual_seed(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(FAN(modules).state_dict(), path)


@needs_fan
def test_face_alignment_random_checkpoint_gives_finite_mouth_points_and_is_picked_by_auto(tmp_path, monkeypatch):
    from vasa3d.io import iter_video_frames

    from eval.tracking import track_video

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    import face_alignment.utils

    def no_download(*args, **kwargs):
        raise AssertionError("face-alignment tried to download")

    monkeypatch.setattr(face_alignment.utils, "load_file_from_url", no_download)
    _random_fan(tmp_path / "torch" / "hub" / "checkpoints" / FAN_WEIGHTS)
    chosen = landmarker("auto")
    assert resolve("auto") == "face-alignment"
    assert isinstance(chosen, FanLips) and chosen.name.startswith("face-alignment")
    frames = np.stack(list(itertools.islice(iter_video_frames(data(GRID_EXCERPT)), 2)))
    track = track_video(frames, 25.0)
    pts = chosen.lips(frames, track)
    assert pts.shape == (2, len(FAN_MOUTH), 2) and np.isfinite(pts).all()
    # random weights put the points anywhere, but always inside FAN's crop around the tracked face
    xy = track.landmarks[0, :468, :2]
    lo, hi = xy.min(0), xy.max(0)
    side = (hi - lo).sum() / 195 * 200
    assert (np.abs(pts[0] - 0.5 * (lo + hi)) < side).all()
    assert np.isfinite(lmd(pts, track, pts[::-1].copy(), np.array([[1.0, 0, 0], [0, 1, 0]])).value)


@needs_fan
def test_face_alignment_checkpoint_loads_strictly(tmp_path):
    bad = tmp_path / FAN_WEIGHTS
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="not a face-alignment 2D-FAN checkpoint"):
        FanLips(bad)
    import torch

    torch.save({"conv1.weight": torch.zeros(1)}, bad)
    with pytest.raises(InputError, match="not a face-alignment 2D-FAN checkpoint"):
        FanLips(bad)
