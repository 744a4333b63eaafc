"""The differentiable avatar: PyTorch posing against the NumPy reference, gradients through pose + rasterize,
snapshots vs edits, requests that never write into a shared avatar, strict avatar files, devices."""

from __future__ import annotations

import threading
from dataclasses import fields, replace

import numpy as np
import pytest
import torch

from vasa3d.avatar import Avatar, FramePose
from vasa3d.avatar.bench import small_avatar
from vasa3d.avatar.pose import AvatarTensors, frame_tensors, pose, pose_tensors
from vasa3d.avatar.pose_ref import pose_reference
from vasa3d.avatar.types import Binding, Fade, GaussianParams
from vasa3d.errors import InputError

PORTRAITS = ("p01_astronaut_eileen_collins.jpg", "p02_obama_official.jpg", "p03_biden_official.jpg",
             "p04_einstein_bw.jpg", "p05_grid_man_moustache.png", "p06_grid_older_woman.png",
             "p07_grid_man_glasses.png")


def _random_pose(rig_names, rng, amplitude=0.6, rotation=0.3) -> FramePose:
    return FramePose(names=tuple(rig_names), coeffs=rng.uniform(0.0, amplitude, len(rig_names)).astype(np.float32),
                     head_rotation=rng.normal(0.0, rotation, 3).astype(np.float32),
                     head_translation=rng.normal(0.0, 0.01, 3).astype(np.float32),
                     gaze=rng.normal(0.0, 0.1, 2).astype(np.float32))


def _covariances(quats: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """[N, 3, 3] R diag(s^2) R^T of wxyz quats [N, 4] and scales [N, 3] (float64)."""
    q = quats.astype(np.float64) / np.linalg.norm(quats, axis=1, keepdims=True)
    w, x, y, z = q.T
    R = np.stack([np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
                  np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
                  np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1)], -2)
    return np.einsum("nij,nj,nkj->nik", R, scales.astype(np.float64) ** 2, R)


def assert_pose_matches_reference(av: Avatar, frame: FramePose) -> float:
    """Torch posing == the NumPy reference: means to 1e-5 m, covariances, opacities, colours. Returns the error."""
    ref = pose_reference(av.head, av.params, frame.names, frame.coeffs, frame.head_rotation, frame.head_translation,
                         frame.gaze)
    got = pose(av, frame).numpy()
    err = float(np.abs(got.means - ref[0]).max())
    assert err <= 1e-5, err
    cov_got, cov_ref = _covariances(got.quats, got.scales), _covariances(ref[1], ref[2])
    np.testing.assert_allclose(cov_got, cov_ref, atol=1e-3 * float(np.abs(cov_ref).max()))
    np.testing.assert_allclose(got.opacities, ref[3], atol=1e-6)
    np.testing.assert_array_equal(got.colors, ref[4])
    return err


def test_pose_matches_the_numpy_reference_obama(obama_avatar):
    rng = np.random.default_rng(0)
    names = obama_avatar.head.rig.supported
    assert_pose_matches_reference(obama_avatar, _random_pose((), rng, rotation=0.0))
    for _ in range(3):
        assert_pose_matches_reference(obama_avatar, _random_pose(names, rng))


@pytest.mark.slow
@pytest.mark.parametrize("portrait", PORTRAITS)
def test_pose_matches_the_numpy_reference_on_every_portrait(portrait):
    from conftest import data

    from vasa3d.pipeline import build_avatar

    av = build_avatar(data(f"portraits/{portrait}"))
    rng = np.random.default_rng(1)
    for _ in range(2):
        assert_pose_matches_reference(av, _random_pose(av.head.rig.supported, rng))


def test_gradcheck_through_pose_and_rasterize_float64(obama_avatar):
    """Gaussian parameters, rig coefficients and head pose -> pose -> rasterize (float64): analytic gradients
    agree with finite differences; the pose alone too, with respect to the barycentric positions."""
    from vasa3d.avatar.bench import gradcheck_pose_rasterize

    assert gradcheck_pose_rasterize(obama_avatar)
    av = small_avatar(obama_avatar)
    t = AvatarTensors.from_avatar(av, dtype=torch.float64, requires_grad=True)
    frame = _random_pose(av.head.rig.supported, np.random.default_rng(3), amplitude=0.5, rotation=0.2)
    drive = [x.detach().clone().requires_grad_() for x in frame_tensors(t, frame)]

    def posed(bary, full, rotvec, translation, gaze):
        g = pose_tensors(replace(t, params=replace(t.params, bary=bary)), full, rotvec, translation, gaze)
        return g.means, g.quats, g.scales, g.opacities

    assert torch.autograd.gradcheck(posed, (t.params.bary, *drive), eps=1e-7, atol=1e-6, rtol=1e-4,
                                    fast_mode=True)


def test_gradients_reach_every_rig_coefficient_and_the_head_pose(obama_avatar):
    av = small_avatar(obama_avatar, per_binding=40)
    t = AvatarTensors.from_avatar(av, dtype=torch.float64)
    frame = _random_pose(av.head.rig.supported, np.random.default_rng(4), amplitude=0.4)
    full, rotvec, translation, gaze = (x.detach().clone().requires_grad_() for x in frame_tensors(t, frame))
    g = pose_tensors(t, full, rotvec, translation, gaze)
    (g.means.square().sum() + g.quats.sum() + g.scales.sum() + g.opacities.sum()).backward()
    for name, grad in (("rotvec", rotvec.grad), ("translation", translation.grad), ("gaze", gaze.grad)):
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0, name
    assert torch.isfinite(full.grad).all()
    moving = [n for n, gr in zip(t.head.names, full.grad) if gr.abs() > 0]
    assert "jawOpen" in moving and "eyeBlinkLeft" in moving and "mouthSmileLeft" in moving


def test_numba_inference_posing_matches_the_torch_posing(obama_avatar):
    """`_numba_pose` (the renderer's CPU posing) == `pose_tensors`: means and scales to 1e-5 m, covariances,
    opacities and colours; the rendered frames agree to rounding."""
    from vasa3d.avatar._numba_pose import OP_FACE, OP_FACE_RIGID, OP_PART, POST_HEAD, POST_NECK, plan, pose_numba
    from vasa3d.avatar.view import FrameRenderer

    t = AvatarTensors.from_avatar(obama_avatar)
    codes = plan(t.layout)
    assert {OP_FACE, OP_FACE_RIGID, OP_PART} <= set(codes[0]) and {POST_HEAD, POST_NECK} <= set(codes[2])
    rng = np.random.default_rng(1)
    names = obama_avatar.head.rig.supported
    with torch.no_grad():
        for frame in [_random_pose((), rng, rotation=0.0)] + [_random_pose(names, rng) for _ in range(3)]:
            args = frame_tensors(t, frame)
            ref, got = pose_tensors(t, *args, avatar_order=False), pose_numba(t, codes, *args)
            assert float((ref.means - got.means).abs().max()) <= 1e-5
            assert float((ref.scales - got.scales).abs().max()) <= 1e-6
            cov_ref, cov_got = (_covariances(g.quats.numpy(), g.scales.numpy()) for g in (ref, got))
            np.testing.assert_allclose(cov_got, cov_ref, atol=1e-3 * float(np.abs(cov_ref).max()))
            np.testing.assert_allclose(got.opacities.numpy(), ref.opacities.numpy(), atol=1e-7)
            assert torch.equal(got.colors, ref.colors) and got.means.is_contiguous() and got.quats.is_contiguous()
    renderer = FrameRenderer(obama_avatar, 128)
    assert renderer._codes is not None
    renderer._cache = None              # both frames composited in full (no tiles carried over)
    frame = _random_pose(names, rng)
    fast = renderer.render(frame, 0.2, 0.1)
    renderer._codes = None
    slow = renderer.render(frame, 0.2, 0.1)
    assert np.abs(fast.astype(int) - slow).max() <= 2 and np.abs(fast.astype(float) - slow).mean() < 0.01


def test_with_body_follows_head_the_whole_person_moves_with_the_head_translation(obama_avatar):
    """FrameRenderer(body_follows_head=True): a head translation moves every Gaussian by it (torso included), a
    rotation still turns only the head; by default the torso (skin 0) stays where it is."""
    from vasa3d.avatar.view import FrameRenderer

    still, follows = FrameRenderer(obama_avatar, 64), FrameRenderer(obama_avatar, 64, body_follows_head=True)
    skin = follows.sorted_skin.numpy()
    assert (skin <= 0).any() and ((skin > 0) & (skin < 1)).any()
    move = np.float32([0.01, -0.02, 0.03])
    at = lambda r, rot, tr: r.posed(FramePose((), np.zeros(0, np.float32), np.float32(rot), tr,  # noqa: E731
                                              np.zeros(2, np.float32)))[0].means.numpy()
    zero = np.zeros(3, np.float32)
    everywhere = np.broadcast_to(move, skin.shape + (3,))
    np.testing.assert_allclose(at(follows, zero, move) - at(follows, zero, zero), everywhere, atol=1e-6)
    shift = at(still, zero, move) - at(still, zero, zero)
    np.testing.assert_allclose(shift, skin[:, None] * move, atol=1e-6)
    turned = at(follows, [0.0, 0.3, 0.0], move) - at(follows, [0.0, 0.3, 0.0], zero)
    np.testing.assert_allclose(turned, everywhere, atol=1e-6)
    torso = skin <= 0
    np.testing.assert_array_equal(at(follows, [0.0, 0.3, 0.0], zero)[torso], at(follows, zero, zero)[torso])
    frame = FramePose((), np.zeros(0, np.float32), zero, move, np.zeros(2, np.float32))
    assert np.abs(follows.render(frame).astype(int) - still.render(frame)).max() > 50   # the torso moved


def test_frames_that_keep_the_still_torsos_tiles_equal_frames_drawn_in_full(obama_avatar):
    """FrameRenderer's tile cache: over a talking, turning head with a fixed camera, consecutive frames copy the
    tiles only the still torso draws (kept > 0), and every frame equals the same frame composited in full, pixel
    for pixel; a camera move starts afresh; a renderer whose body follows the head keeps nothing."""
    from vasa3d.avatar.view import FrameRenderer

    rng = np.random.default_rng(3)
    names = obama_avatar.head.rig.supported
    frames = [_random_pose(names, rng, rotation=0.15) for _ in range(4)]
    cached, full = FrameRenderer(obama_avatar, 160), FrameRenderer(obama_avatar, 160)
    full._cache = None
    assert cached._cache is not None and cached._cache.still.any()
    views = [(0.0, 0.0)] * 3 + [(0.3, 0.0)] + [(0.3, 0.0)] * 2
    kept = []
    for frame, (yaw, pitch) in zip(frames + frames[:2], views):
        a, b = cached.render(frame, yaw, pitch), full.render(frame, yaw, pitch)
        np.testing.assert_array_equal(a, b)
        kept.append(cached._cache.kept)
    assert kept[0] == 0 and kept[3] == 0 and min(kept[1], kept[2], kept[4], kept[5]) > 10, kept
    assert FrameRenderer(obama_avatar, 64, body_follows_head=True)._cache is None


def test_an_edit_to_the_avatar_shows_up_in_the_next_render(obama_avatar):
    from vasa3d.avatar.view import neutral_pose, render_frame

    av = replace(obama_avatar, params=replace(obama_avatar.params))
    before = render_frame(av, neutral_pose(), size=128)
    face = np.flatnonzero(av.params.binding == Binding.FACE)
    colors = av.params.colors.copy()
    colors[face] = (0.0, 1.0, 0.0)
    av.params.colors = colors                                           # replace the array ...
    green = render_frame(av, neutral_pose(), size=128)
    assert (green[..., 1].astype(int) - before[..., 1]).max() > 100
    av.params.colors[face] = (1.0, 0.0, 0.0)                            # ... or write into it
    red = render_frame(av, neutral_pose(), size=128)
    assert (red[..., 0].astype(int) - before[..., 0]).max() > 100
    assert av.pose(neutral_pose()).colors[face[0]].tolist() == [1.0, 0.0, 0.0]


def _fingerprint(av: Avatar) -> tuple:
    arrays = [getattr(av.params, f.name) for f in fields(GaussianParams)] + [
        av.head.face_rest, av.head.face_photo, av.head.rig.deltas, av.K, av.T_cam_from_head, av.background]
    return tuple(a.tobytes() for a in arrays), sorted(vars(av)), sorted(vars(av.head)), sorted(vars(av.params))


def test_requests_never_write_into_a_shared_avatar(obama_avatar):
    from vasa3d.avatar.view import FrameRenderer

    av = obama_avatar
    before = _fingerprint(av)
    rng = np.random.default_rng(5)
    frames = [_random_pose(av.head.rig.supported, rng) for _ in range(6)]
    expected = [FrameRenderer(av, 96).render(f, 0.1, 0.0) for f in frames]
    results: dict[int, list] = {}
    errors = []

    def work(k: int) -> None:
        try:
            renderer = FrameRenderer(av, 96)
            results[k] = [renderer.render(f, 0.1, 0.0) for f in (frames if k == 0 else frames[::-1])]
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    for got, want in zip(results[0], expected):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(results[1], expected[::-1]):
        np.testing.assert_array_equal(got, want)
    assert _fingerprint(av) == before


def test_avatar_file_records_its_config_and_version(tmp_path, obama_avatar):
    import json

    path = obama_avatar.save(tmp_path / "a.npz")
    with np.load(path) as d:
        header = json.loads(str(d["header"]))
    assert header["version"] == 2 and header["num_gaussians"] == obama_avatar.num_gaussians
    assert header["config"]["avatar"]["face_stride"] == 1 and header["config"]["face"]["fov_deg"] > 0
    assert Avatar.load(path).config == obama_avatar.config


@pytest.mark.parametrize("damage", ["drop gauss_bary", "drop head_rig_deltas", "drop K", "shape gauss_colors",
                                    "nan gauss_local_pos", "binding", "parent", "version", "truncate"])
def test_a_damaged_avatar_file_is_a_clear_error(tmp_path, obama_avatar, damage):
    path = obama_avatar.save(tmp_path / "a.npz")
    with np.load(path) as d:
        data = {k: d[k] for k in d.files}
    kind, _, key = damage.partition(" ")
    if kind == "drop":
        del data[key]
    elif kind == "shape":
        data[key] = data[key][:, :2]
    elif kind == "nan":
        data[key] = data[key].copy()
        data[key][5] = np.nan
    elif kind == "binding":
        data["gauss_binding"] = np.full_like(data["gauss_binding"], 42)
    elif kind == "parent":
        data["gauss_parent"] = np.full_like(data["gauss_parent"], 5000)
    elif kind == "version":
        data["header"] = np.array(str(data["header"]).replace('"version": 2', '"version": 7'))
    bad = tmp_path / "bad.npz"
    if kind == "truncate":
        bad.write_bytes(path.read_bytes()[:5000])
    else:
        np.savez(bad, **data)
    with pytest.raises(InputError) as info:
        Avatar.load(bad)
    message = str(info.value)
    assert "vasa3d build" in message
    if kind in ("drop", "shape", "nan"):
        assert key.removeprefix("gauss_") in message


def test_an_avatar_of_format_1_still_loads(tmp_path, obama_avatar):
    """Format 1 kept a face-bound group with a `lash` flag (1/2 lash lines, 3 inner-lip lines) and a rigid group
    with parts 1-5; it loads into the same flat Gaussians and poses the same."""
    import json

    av, p = obama_avatar, obama_avatar.params
    face = p.parent >= 0
    v1_lash = np.where(p.binding == Binding.FACE_EDGE, 3, p.fade)[face]
    plain = (p.binding[face] == Binding.FACE)
    offset = np.where(plain | (v1_lash != 0), p.local_pos[face, 2], 0.0)
    local_pos = p.local_pos[face].copy()
    local_pos[:, 2] -= offset
    v1_part = {int(Binding.SKULL): 1, int(Binding.JAW): 2, int(Binding.EYE_R): 3, int(Binding.EYE_L): 4,
               int(Binding.BODY): 5}
    data = {"header": np.array(json.dumps({"format": "vasa3d-avatar", "version": 1, "size": av.size})),
            "face_parent": p.parent[face], "face_bary": p.bary[face], "face_offset": offset.astype(np.float32),
            "face_local_quat": p.local_quat[face], "face_local_scale": p.local_scale[face],
            "face_colors": p.colors[face], "face_opacities": p.opacities[face],
            "face_lash": v1_lash.astype(np.int8), "face_local_pos": local_pos,
            "rigid_means": p.local_pos[~face], "rigid_quats": p.local_quat[~face], "rigid_scales": p.local_scale[~face],
            "rigid_colors": p.colors[~face], "rigid_opacities": p.opacities[~face],
            "rigid_part": np.array([v1_part[int(b)] for b in p.binding[~face]], np.int8), "rigid_skin": p.skin[~face],
            "K": av.K, "T_cam_from_head": av.T_cam_from_head, "background": av.background.astype(np.float16)}
    data.update(av.head.to_npz_dict())
    np.savez(tmp_path / "v1.npz", **data)
    loaded = Avatar.load(tmp_path / "v1.npz")
    np.testing.assert_array_equal(np.sort(loaded.params.binding), np.sort(p.binding))
    frame = _random_pose(av.head.rig.supported, np.random.default_rng(6))
    a, b = av.pose(frame), loaded.pose(frame)
    np.testing.assert_allclose(np.sort(a.means, axis=0), np.sort(b.means, axis=0), atol=1e-6)


def test_device_choice():
    from vasa3d.avatar.view import resolve_device

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(InputError, match="device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA"):
            resolve_device("cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_pose_matches_the_cpu(obama_avatar):
    frame = _random_pose(obama_avatar.head.rig.supported, np.random.default_rng(7))
    cpu = pose(obama_avatar, frame, "cpu").numpy()
    gpu = pose(obama_avatar, frame, "cuda")
    assert gpu.means.device.type == "cuda"
    np.testing.assert_allclose(gpu.numpy().means, cpu.means, atol=1e-5)


def test_a_device_that_is_not_there_is_refused_before_any_work(tmp_path, obama_path):
    import time

    from vasa3d.io.audio import write_wav
    from vasa3d.pipeline import TalkingHeadPipeline, TalkRequest

    wav = tmp_path / "s.wav"
    write_wav(wav, np.zeros(16000, np.float32), 16000)
    bad = TalkRequest(image=obama_path, audio=wav, output=tmp_path / "out.mp4", device="tpu")
    with pytest.raises(InputError, match="device"):
        bad.validate()
    if not torch.cuda.is_available():
        t0 = time.perf_counter()
        with pytest.raises(InputError, match="CUDA"):
            TalkingHeadPipeline().run(replace(bad, device="cuda"))
        assert time.perf_counter() - t0 < 2.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.wav"]
