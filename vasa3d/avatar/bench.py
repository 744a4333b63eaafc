"""Posing benchmark: PyTorch posing of a portrait avatar, its agreement with the NumPy reference, and a float64
gradcheck through pose + rasterize; prints one JSON object (`vasa3d bench pose`).

Fields:
- ms_per_frame: median wall time of posing one frame (no gradients, the renderer's sorted order), over
  `n_frames` frames of random rig coefficients and head poses, after warm-up; ms_per_frame_avatar_order: the
  same with the Gaussians put back in the avatar's order (what `pose()` returns); ms_per_frame_one_thread: the
  first with torch limited to one thread (small tensors gain little from more; on a busy machine they lose);
  ms_per_frame_numba: the renderer's CPU posing (`_numba_pose`: the per-Gaussian work in one numba pass; null
  on a GPU), same frames.
- numpy_reference_ms: median of the NumPy reference (`pose_reference`) on the same frames (a few of them);
  speedup_vs_numpy_reference = numpy_reference_ms / ms_per_frame, measured in the same run.
- parity_max_err_m: the largest distance between a Gaussian's centre from PyTorch and from the reference.
- gradcheck: `torch.autograd.gradcheck` (float64, fast mode) of pose + rasterize (torch reference backend,
  20 x 20 px) with respect to the Gaussian parameters, the rig coefficients and the head pose, on a subset of
  the avatar with a few Gaussians of every binding.
- num_gaussians, device, torch_threads.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import fields, replace

import numpy as np
import torch

from vasa3d.avatar.pose import AvatarTensors, FramePose, frame_tensors, pose_tensors
from vasa3d.avatar.pose_ref import pose_reference
from vasa3d.avatar.types import Binding, Fade, GaussianParams


def random_frame(names, rng: np.random.Generator, amplitude: float = 0.6, rotation: float = 0.3) -> FramePose:
    """A frame with uniform [0, amplitude) coefficients for `names`, a N(0, rotation) head rotation (rad), a
    N(0, 1 cm) translation and a N(0, 0.1) gaze."""
    return FramePose(names=tuple(names), coeffs=rng.uniform(0.0, amplitude, len(names)).astype(np.float32),
                     head_rotation=rng.normal(0.0, rotation, 3).astype(np.float32),
                     head_translation=rng.normal(0.0, 0.01, 3).astype(np.float32),
                     gaze=rng.normal(0.0, 0.1, 2).astype(np.float32))


def small_avatar(avatar, per_binding: int = 6, seed: int = 0, scale_up: float = 8.0):
    """A copy of `avatar` with `per_binding` Gaussians of every binding (plus lash lines and neck Gaussians of
    partial skin), their scales times `scale_up` so they cover pixels at a low resolution (for gradchecks)."""
    rng = np.random.default_rng(seed)
    p = avatar.params
    keep = []
    for b in Binding:
        idx = np.flatnonzero(p.binding == int(b))
        keep += list(rng.choice(idx, min(per_binding, len(idx)), replace=False))
    for extra in (np.flatnonzero(p.fade != Fade.NONE), np.flatnonzero((p.skin > 0) & (p.skin < 1))):
        keep += list(rng.choice(extra, min(3, len(extra)), replace=False))
    sub = GaussianParams(**{f.name: getattr(p, f.name)[np.array(keep)] for f in fields(GaussianParams)})
    sub.local_scale = sub.local_scale * np.float32(scale_up)
    return replace(avatar, params=sub)


def gradcheck_pose_rasterize(avatar, seed: int = 3, size: int = 20) -> bool:
    """float64 `torch.autograd.gradcheck` of rasterize(pose(...)) (rgb and alpha) with respect to the Gaussian
    parameters (local_pos, local_quat, local_scale, colors, opacities), the full rig coefficients, the head
    rotation and translation and the gaze, on `small_avatar(avatar)`. Raises on a mismatch (gradcheck's error)."""
    from vasa3d.render import rasterize
    from vasa3d.render.cameras import orbit_viewmat, scale_intrinsics

    av = small_avatar(avatar)
    t = AvatarTensors.from_avatar(av, dtype=torch.float64, requires_grad=True)
    frame = random_frame(av.head.rig.supported, np.random.default_rng(seed), amplitude=0.5, rotation=0.2)
    drive = [x.detach().clone().requires_grad_() for x in frame_tensors(t, frame)]
    viewmat = torch.from_numpy(orbit_viewmat(av.T_cam_from_head, 0.2, 0.1)).double()[None]
    K = torch.from_numpy(scale_intrinsics(av.K, av.size, size)).double()[None]
    p = t.params

    def render(local_pos, local_quat, local_scale, colors, opacities, full, rotvec, translation, gaze):
        tt = replace(t, params=replace(p, local_pos=local_pos, local_quat=local_quat, local_scale=local_scale,
                                       colors=colors, opacities=opacities))
        g = pose_tensors(tt, full, rotvec, translation, gaze)
        out = rasterize(g.means, g.quats, g.scales, g.opacities, g.colors, viewmat, K, size, size, backend="torch")
        return out.rgb, out.alpha

    inputs = (p.local_pos, p.local_quat, p.local_scale, p.colors, p.opacities, *drive)
    return bool(torch.autograd.gradcheck(render, inputs, eps=1e-7, atol=1e-5, rtol=1e-3, fast_mode=True))


def bench_pose(avatar, n_frames: int = 100, device: str = "cpu", reference_frames: int = 10,
               seed: int = 0) -> dict:
    """The figures of the module docstring for `avatar` (an `Avatar`) on `device`."""
    rng = np.random.default_rng(seed)
    frames = [random_frame(avatar.head.rig.supported, rng) for _ in range(n_frames)]
    t = AvatarTensors.from_avatar(avatar, device)
    driven = [frame_tensors(t, f) for f in frames]
    sync = torch.cuda.synchronize if t.head.face_rest.device.type == "cuda" else (lambda: None)

    def timed(avatar_order: bool, fn=None) -> float:
        fn = fn or (lambda args: pose_tensors(t, *args, avatar_order=avatar_order))
        times = []
        with torch.no_grad():
            for args in driven[:5]:
                fn(args)
            for args in driven:
                sync()
                t0 = time.perf_counter()
                fn(args)
                sync()
                times.append(time.perf_counter() - t0)
        return 1e3 * statistics.median(times)

    ms_sorted, ms_avatar = timed(False), timed(True)
    ms_numba = None
    if t.head.face_rest.device.type == "cpu":
        from vasa3d.avatar._numba_pose import plan, pose_numba

        codes = plan(t.layout)
        ms_numba = round(timed(False, lambda args: pose_numba(t, codes, *args)), 3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        ms_one_thread = timed(False)
    finally:
        torch.set_num_threads(threads)
    ref_times, err = [], 0.0
    with torch.no_grad():
        for f, args in list(zip(frames, driven))[:reference_frames]:
            t0 = time.perf_counter()
            ref = pose_reference(avatar.head, avatar.params, f.names, f.coeffs, f.head_rotation, f.head_translation,
                                 f.gaze)
            ref_times.append(time.perf_counter() - t0)
            got = pose_tensors(t, *args).means.cpu().numpy()
            err = max(err, float(np.abs(got - ref[0]).max()))
    ref_ms = 1e3 * statistics.median(ref_times)
    try:
        grad_ok = gradcheck_pose_rasterize(avatar)
    except RuntimeError:                      # gradcheck raises GradcheckError (a RuntimeError) on a mismatch
        grad_ok = False
    return {"ms_per_frame": round(ms_sorted, 3), "ms_per_frame_avatar_order": round(ms_avatar, 3),
            "ms_per_frame_one_thread": round(ms_one_thread, 3), "ms_per_frame_numba": ms_numba,
            "numpy_reference_ms": round(ref_ms, 3), "speedup_vs_numpy_reference": round(ref_ms / ms_sorted, 2),
            "parity_max_err_m": err, "gradcheck": grad_ok, "num_gaussians": avatar.num_gaussians,
            "n_frames": n_frames, "device": str(t.head.face_rest.device), "torch_threads": torch.get_num_threads()}
