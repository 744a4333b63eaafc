"""Rasterizer benchmark on a head-like scene; prints one JSON object.

    python -m vasa3d.render.bench --n 50000 --size 512 [--backward] [--backend numba] [--repeats 20]
    vasa3d bench render ...   (same arguments)

Scene: N flat discs on an ellipsoid "head" (semi-axes 9 x 11.5 x 10 cm, centred 1 m in front of a pinhole camera
with a 22 degree horizontal FOV), so the head covers about a quarter of the frame. Discs lie in the tangent
plane, in-plane scales 2-4 mm, thickness 0.4 mm, opacities 0.5-1, random colours.

Reported fields:
- median_ms / best_ms: wall time of one `rasterize` call (forward) or forward + `backward()` of a random linear
  loss of rgb, alpha and depth (--backward), over `repeats` calls after one warm-up call; fps = 1000 / median_ms.
- compile_s: wall time of the first call minus median_ms: numba's JIT compile when its disk cache is cold, or
  loading the cached machine code when warm (numba_cache_hits / numba_cache_misses say which); --cold-cache
  points numba at a fresh, empty cache directory first, to measure the full compile.
- gaussian_pixel_evals_per_s: *estimated*, not counted: the number of (Gaussian, pixel) pairs inside the
  projected 3-sigma boxes (clipped to the image), i.e. what a per-pixel gsplat loop without early termination
  would evaluate, divided by the forward time. The numba kernel evaluates far fewer (rows of the alpha >= 1/255
  ellipse only, and stops at saturated pixels).
- peak_memory_mb: the process's peak resident set size (resource.getrusage ru_maxrss) measured before the torch
  reference runs; includes the Python/torch/numba baseline given as baseline_rss_mb.
- speedup_vs_torch: torch-reference time (one call) / median_ms on the same scene and size. The forward
  reference runs at full N. The backward reference keeps every autograd intermediate (~2.4 GB at N = 50k,
  256 px), so above TORCH_BACKWARD_MAX_N * (256 / size)^2 Gaussians it runs on a random subset of that many
  and its time is scaled by N / n_subset (time is linear in the number of tile-Gaussian pairs); torch_n and
  torch_scaled say which was done; torch_peak_rss_mb is the process peak after it ran.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import time

import numpy as np
import torch

from vasa3d.render.rasterize import rasterize, resolve_backend

HEAD_SEMI_AXES_M = (0.09, 0.115, 0.10)
HEAD_DISTANCE_M = 1.0
FOV_DEG = 22.0
DISC_SCALE_RANGE_M = (0.002, 0.004)
DISC_THICKNESS_M = 0.0004
TORCH_BACKWARD_MAX_N = 50_000  # at 256 px; scaled by (256 / size)^2 (about 2.5 GB for the torch backward)


def head_scene(n: int, size: int, seed: int = 0) -> dict[str, torch.Tensor | int]:
    """A head-like scene: N tangent discs on an ellipsoid 1 m in front of a size x size camera.

    Returns the keyword arguments of `rasterize` (float32 CPU tensors, one camera; world = head frame,
    +y up, +z towards the camera; OpenCV camera at z = +1 m looking down -z).
    """
    gen = np.random.default_rng(seed)
    axes = np.array(HEAD_SEMI_AXES_M)
    d = gen.normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    means = d * axes
    normal = d / axes
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    quats = _quat_z_to(normal, gen.uniform(0, 2 * np.pi, n))
    scales = np.empty((n, 3))
    scales[:, :2] = gen.uniform(*DISC_SCALE_RANGE_M, size=(n, 2))
    scales[:, 2] = DISC_THICKNESS_M
    opacities = gen.uniform(0.5, 1.0, n)
    colors = np.clip(np.array([0.8, 0.6, 0.5]) + 0.15 * gen.normal(size=(n, 3)), 0, 1)
    focal = 0.5 * size / math.tan(math.radians(FOV_DEG) / 2)
    viewmat = np.diag([1.0, -1.0, -1.0, 1.0])
    viewmat[2, 3] = HEAD_DISTANCE_M
    K = np.array([[focal, 0, size / 2], [0, focal, size / 2], [0, 0, 1]])
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return dict(means=t(means), quats=t(quats), scales=t(scales), opacities=t(opacities), colors=t(colors),
                viewmats=t(viewmat)[None], Ks=t(K)[None], width=size, height=size)


def _quat_z_to(normal: np.ndarray, spin: np.ndarray) -> np.ndarray:
    """wxyz quaternions rotating +z onto `normal` [N,3], after a spin about z by `spin` [N] radians."""
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(z, normal)
    s = np.linalg.norm(axis, axis=1)
    c = normal @ z
    ang = np.arctan2(s, c)
    axis = np.where(s[:, None] > 1e-9, axis / np.maximum(s, 1e-12)[:, None], np.array([1.0, 0, 0]))
    q_align = np.concatenate([np.cos(ang / 2)[:, None], axis * np.sin(ang / 2)[:, None]], 1)
    q_spin = np.stack([np.cos(spin / 2), 0 * spin, 0 * spin, np.sin(spin / 2)], 1)
    w1, v1 = q_align[:, :1], q_align[:, 1:]
    w2, v2 = q_spin[:, :1], q_spin[:, 1:]
    return np.concatenate([w1 * w2 - np.sum(v1 * v2, 1, keepdims=True), w1 * v2 + w2 * v1 + np.cross(v1, v2)], 1)


def _run_once(scene: dict, backend: str, backward: bool, grads: tuple | None) -> float:
    """Time one forward (and backward) call in seconds."""
    if not backward:
        t0 = time.perf_counter()
        with torch.no_grad():
            rasterize(**scene, backend=backend)
        return time.perf_counter() - t0
    leaves = {k: scene[k].clone().requires_grad_(True) for k in ("means", "quats", "scales", "opacities", "colors")}
    t0 = time.perf_counter()
    out = rasterize(**{**scene, **leaves}, backend=backend)
    loss = (out.rgb * grads[0]).sum() + (out.alpha * grads[1]).sum() + (out.depth * grads[2]).sum()
    loss.backward()
    return time.perf_counter() - t0


def _loss_weights(size: int, seed: int) -> tuple:
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(1, size, size, c, generator=gen) for c in (3, 1, 1))


def _box_pairs(scene: dict) -> int:
    """(Gaussian, pixel) pairs inside the 3-sigma boxes clipped to the image (gsplat's projection rules)."""
    from vasa3d.render._torch_ref import project

    size = scene["width"]
    with torch.no_grad():
        m2d, _, _, radii = project(scene["means"], scene["quats"], scene["scales"], scene["viewmats"][0],
                                   scene["Ks"][0], size, scene["height"])
    r, vis = radii.double(), radii > 0
    x0, x1 = (m2d[:, 0] - r).clamp(0, size), (m2d[:, 0] + r).clamp(0, size)
    y0, y1 = (m2d[:, 1] - r).clamp(0, size), (m2d[:, 1] + r).clamp(0, size)
    return int(((x1 - x0) * (y1 - y0))[vis].sum())


def _numba_cache_stats() -> tuple[int, int]:
    from vasa3d.render import _numba_project, _numba_raster

    kernels = [_numba_project.project_fwd, _numba_project.project_bwd, _numba_project.bin_tiles,
               _numba_raster.raster_fwd, _numba_raster.raster_bwd, _numba_raster.raster_image]
    hits = sum(sum(k.stats.cache_hits.values()) for k in kernels)
    misses = sum(sum(k.stats.cache_misses.values()) for k in kernels)
    return hits, misses


def bench_render(n: int, size: int, backward: bool, backend: str = "auto", repeats: int = 20, seed: int = 0,
                 torch_reference: bool = True) -> dict:
    """Benchmark `rasterize` on `head_scene(n, size, seed)`; returns the JSON-able dict described above."""
    scene = head_scene(n, size, seed)
    name = resolve_backend(backend, "cpu")
    grads = _loss_weights(size, seed) if backward else None
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    first = _run_once(scene, name, backward, grads)
    times = [_run_once(scene, name, backward, grads) for _ in range(repeats)]
    median = statistics.median(times)
    result = dict(
        backend=name, n=n, size=size, backward=backward, repeats=repeats, threads=torch.get_num_threads(),
        median_ms=round(median * 1e3, 3), best_ms=round(min(times) * 1e3, 3), fps=round(1.0 / median, 1),
        compile_s=round(max(first - median, 0.0), 3),
        peak_memory_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        baseline_rss_mb=round(baseline_rss, 1),
    )
    if name == "numba":
        import numba

        result["threads"] = numba.get_num_threads()
        result["numba_cache_hits"], result["numba_cache_misses"] = _numba_cache_stats()
    with torch.no_grad():
        result["coverage"] = round(float((rasterize(**scene, backend=name).alpha > 0.5).float().mean()), 3)
    pairs = _box_pairs(scene)
    result["box_pairs"] = pairs
    if not backward:
        result["gaussian_pixel_evals_per_s"] = float(f"{pairs / median:.4g}")
    if torch_reference and name != "torch":
        result.update(_torch_speedup(scene, n, backward, grads, median, seed))
    return result


def _torch_speedup(scene: dict, n: int, backward: bool, grads: tuple | None, median: float, seed: int) -> dict:
    """Time the torch reference once on the same scene (a subset for --backward) and compare."""
    sub_n = min(n, max(1, int(TORCH_BACKWARD_MAX_N * (256 / scene['width']) ** 2))) if backward else n
    sub = scene
    if sub_n < n:
        keep = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:sub_n]
        sub = {k: (v[keep] if k in ("means", "quats", "scales", "opacities", "colors") else v)
               for k, v in scene.items()}
    ref = _run_once(sub, "torch", backward, grads) * (n / sub_n)
    return dict(torch_ms=round(ref * 1e3, 1), torch_n=sub_n, torch_scaled=sub_n < n,
                speedup_vs_torch=round(ref / median, 1),
                torch_peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Arguments of `vasa3d bench render` (also usable by the CLI to add them to a subparser)."""
    p = parser or argparse.ArgumentParser(prog="python -m vasa3d.render.bench", description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=50_000, help="number of Gaussians")
    p.add_argument("--size", type=int, default=512, help="image side in pixels")
    p.add_argument("--backward", action="store_true", help="time forward + backward")
    p.add_argument("--backend", default="auto", choices=["auto", "numba", "gsplat", "torch"])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-torch", action="store_true", help="skip the torch-reference speedup measurement")
    p.add_argument("--cold-cache", action="store_true", help="compile numba kernels into an empty cache")
    return p


def _use_empty_numba_cache() -> str:
    """Point numba's on-disk cache at a new temporary directory (before any kernel module is imported)."""
    import atexit
    import os
    import shutil
    import sys
    import tempfile

    if "vasa3d.render._numba_raster" in sys.modules:
        raise RuntimeError("--cold-cache must be set before the numba kernels are imported")
    path = tempfile.mkdtemp(prefix="vasa3d-numba-cache-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    os.environ["NUMBA_CACHE_DIR"] = path
    from numba.core import config

    config.reload_config()
    return path


def main(argv: list[str] | None = None) -> int:
    """Parse argv, run `bench_render`, print its JSON; returns the exit code (0)."""
    args = build_parser().parse_args(argv)
    if args.cold_cache:
        _use_empty_numba_cache()
    result = bench_render(args.n, args.size, args.backward, args.backend, args.repeats, args.seed,
                          torch_reference=not args.no_torch)
    result["numba_cache"] = "cold" if args.cold_cache else "as found"
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
