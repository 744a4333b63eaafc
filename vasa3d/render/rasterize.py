"""`rasterize()`: render 3D Gaussians into C pinhole cameras with one of three backends.

The maths and conventions are gsplat's (Ye et al. 2024, `gsplat.rasterization`, v1.0-1.3 rules) which follow
3DGS (Kerbl et al. 2023); `_torch_ref.py` states every rule. Backends:

- ``numba``: CPU kernels (default without CUDA), forward and backward, parallel over 16x16 tiles on numba's
  thread pool (all cores unless NUMBA_NUM_THREADS / numba.set_num_threads say otherwise). The first call in a
  process compiles the kernels (several seconds) or loads them from numba's on-disk cache (under a second).
- ``gsplat``: the CUDA library, used when it imports and the tensors are on a CUDA device.
- ``torch``: the plain-PyTorch reference (slow, memory-hungry; tests and small scenes).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Literal

import torch

from vasa3d.errors import InputError

BackendName = Literal["auto", "numba", "gsplat", "torch"]
BACKENDS = ("numba", "gsplat", "torch")


@dataclass(frozen=True)
class RenderOutput:
    """Rendered images, float32 on the device of the inputs.

    rgb [C,H,W,D] colours blended front to back plus T_final * background; alpha [C,H,W,1] = 1 - T_final;
    depth [C,H,W,1] = sum_i w_i z_i in metres (camera z of each Gaussian centre), i.e. gsplat's "RGB+D" mode:
    *not* divided by alpha, so it fades to 0 where nothing is rendered (divide by alpha for the mean depth).
    """

    rgb: torch.Tensor
    alpha: torch.Tensor
    depth: torch.Tensor


def _gsplat_importable() -> bool:
    return importlib.util.find_spec("gsplat") is not None


def _numba_importable() -> bool:
    return (
        importlib.util.find_spec("numba") is not None
        and importlib.util.find_spec("vasa3d.render._numba_autograd") is not None
    )


def available_backends() -> list[str]:
    """Backends that can run on this machine: "numba" (numba installed), "gsplat" (gsplat installed and CUDA
    available), "torch" (always)."""
    names = []
    if _numba_importable():
        names.append("numba")
    if torch.cuda.is_available() and _gsplat_importable():
        names.append("gsplat")
    names.append("torch")
    return names


def resolve_backend(backend: BackendName = "auto", device: torch.device | str = "cpu") -> str:
    """The backend `rasterize(..., backend=backend)` runs for tensors on `device`.

    "auto" -> "gsplat" when CUDA is available, gsplat imports and the device is CUDA, else "numba" (or "torch"
    when numba is missing). Raises InputError for an unknown name or an unavailable explicit choice.
    """
    device = torch.device(device)
    if backend == "auto":
        if device.type == "cuda" and torch.cuda.is_available() and _gsplat_importable():
            return "gsplat"
        return "numba" if _numba_importable() else "torch"
    if backend not in BACKENDS:
        raise InputError(f"unknown rasterizer backend {backend!r}; choose one of auto, {', '.join(BACKENDS)}")
    if backend not in available_backends():
        raise InputError(f"rasterizer backend {backend!r} is not available here; available: {available_backends()}")
    if backend == "gsplat" and device.type != "cuda":
        raise InputError("backend 'gsplat' needs the tensors on a CUDA device")
    return backend


def _check_shape(name: str, t: object, shape: tuple) -> None:
    if not isinstance(t, torch.Tensor):
        raise InputError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    ok = t.dim() == len(shape) and all(s is None or s == n for s, n in zip(shape, t.shape))
    if not ok:
        want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise InputError(f"{name} must have shape {want}, got {list(t.shape)}")
    if not t.is_floating_point():
        raise InputError(f"{name} must be a floating-point tensor, got {t.dtype}")


def validate_inputs(means, quats, scales, opacities, colors, viewmats, Ks, width, height, backgrounds) -> None:
    """Raise InputError with what to fix when a shape, dtype or size is wrong (see `rasterize`)."""
    _check_shape("means", means, (None, 3))
    n = means.shape[0]
    _check_shape("quats", quats, (n, 4))
    _check_shape("scales", scales, (n, 3))
    _check_shape("opacities", opacities, (n,))
    _check_shape("colors", colors, (n, None))
    if colors.shape[1] < 1:
        raise InputError("colors must have at least one channel, got shape [N, 0]")
    _check_shape("viewmats", viewmats, (None, 4, 4))
    c = viewmats.shape[0]
    if c < 1:
        raise InputError("viewmats must hold at least one camera, got shape [0, 4, 4]")
    _check_shape("Ks", Ks, (c, 3, 3))
    if backgrounds is not None:
        _check_shape("backgrounds", backgrounds, (c, colors.shape[1]))
    for name, v in (("width", width), ("height", height)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"{name} must be a positive int (pixels), got {v!r}")


def rasterize(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmats: torch.Tensor,
    Ks: torch.Tensor,
    width: int,
    height: int,
    backgrounds: torch.Tensor | None = None,
    backend: BackendName = "auto",
) -> RenderOutput:
    """Render N 3D Gaussians into C cameras (gsplat (Ye et al. 2024) / 3DGS (Kerbl et al. 2023) maths).

    Args:
        means: [N,3] centres in world metres.
        quats: [N,4] rotations, wxyz, need not be normalised (normalised inside).
        scales: [N,3] standard deviations along the rotated axes, linear metres (not log).
        opacities: [N] in [0, 1] (not logits).
        colors: [N,D] per-Gaussian colours or features, any D >= 1.
        viewmats: [C,4,4] world -> camera transforms; OpenCV camera (x right, y down, z forward).
        Ks: [C,3,3] pinhole intrinsics in pixels; pixel centres are at (x + 0.5, y + 0.5).
        width, height: image size in pixels.
        backgrounds: [C,D] colour behind the Gaussians, or None for black.
        backend: "auto" | "numba" | "gsplat" | "torch" (see `resolve_backend`).

    Returns:
        RenderOutput(rgb [C,H,W,D], alpha [C,H,W,1], depth [C,H,W,1]) float32 tensors on the input device;
        depth is the unnormalised expected camera z (gsplat's "RGB+D"). Differentiable with respect to means,
        quats, scales, opacities, colors and backgrounds (not viewmats or Ks).

    Raises:
        InputError (a ValueError) for wrong shapes, non-float tensors, bad sizes or an unavailable backend.
    """
    validate_inputs(means, quats, scales, opacities, colors, viewmats, Ks, width, height, backgrounds)
    name = resolve_backend(backend, means.device)
    if name == "gsplat":
        from vasa3d.render._gsplat import rasterize_gsplat

        rgb, alpha, depth = rasterize_gsplat(
            means, quats, scales, opacities, colors, viewmats, Ks, width, height, backgrounds
        )
    elif name == "numba":
        from vasa3d.render._numba_autograd import rasterize_numba

        rgb, alpha, depth = rasterize_numba(
            means, quats, scales, opacities, colors, viewmats, Ks, width, height, backgrounds
        )
    else:
        from vasa3d.render._torch_ref import rasterize_torch

        rgb, alpha, depth = rasterize_torch(
            means, quats, scales, opacities, colors, viewmats, Ks, width, height, backgrounds
        )
    return RenderOutput(rgb=rgb, alpha=alpha, depth=depth)


def render_image(
    means: torch.Tensor,
    quats: torch.Tensor,
    scales: torch.Tensor,
    opacities: torch.Tensor,
    colors: torch.Tensor,
    viewmat: torch.Tensor,
    K: torch.Tensor,
    width: int,
    height: int,
    plate: torch.Tensor,
    backend: BackendName = "auto",
    cache=None,
) -> torch.Tensor:
    """One finished 8-bit frame: the Gaussians seen by one camera, composited over a background image.

    The no-gradient path of the renderers (video frames, previews): numba composites and converts inside its
    tile kernel (no float image, no separate compositing pass); gsplat and torch run `rasterize` and composite
    on their device. Same pixels either way, to within one 8-bit level.

    Args:
        means, quats, scales, opacities: as `rasterize`; colors: [N,3] RGB in [0, 1].
        viewmat: [4,4] world -> camera (OpenCV); K: [3,3] pixels; width, height: pixels.
        plate: [H,W,3] float32 RGB in [0, 1] behind the Gaussians, on the Gaussians' device.
        backend: as `rasterize`.
        cache: a `vasa3d.render._numba_autograd.ImageCache` of the caller's previous frame (numba only: tiles that
            cannot have changed since are copied; same pixels); ignored by the other backends.
    Returns:
        uint8 [H,W,3] RGB tensor on the Gaussians' device: round(255 clip(rgb + (1 - alpha) plate, 0, 1)).
    Raises:
        InputError for wrong shapes or an unavailable backend.
    """
    validate_inputs(means, quats, scales, opacities, colors, viewmat[None], K[None], width, height, None)
    if colors.shape[1] != 3:
        raise InputError(f"render_image needs RGB colors [N, 3], got {list(colors.shape)}")
    _check_shape("plate", plate, (height, width, 3))
    name = resolve_backend(backend, means.device)
    with torch.no_grad():
        if name == "numba":
            from vasa3d.render._numba_autograd import render_image_numba

            frame = render_image_numba(means, quats, scales, opacities, colors, viewmat, K, width, height, plate,
                                       cache)
            return torch.from_numpy(frame).to(means.device)
        out = rasterize(means, quats, scales, opacities, colors, viewmat[None], K[None], width, height,
                        backend=name)
        rgb = out.rgb[0] + (1.0 - out.alpha[0]) * plate
        return (rgb.clamp(0.0, 1.0) * 255.0 + 0.5).to(torch.uint8)
