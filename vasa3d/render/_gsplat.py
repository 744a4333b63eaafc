"""The gsplat CUDA backend (Ye et al. 2024, `gsplat.rasterization`); imported only when it is used.

gsplat must be installed and the tensors must be on a CUDA device. Rendering uses render_mode="RGB+D" (the
last channel is the unnormalised expected depth, as in the other backends) and packed=False. gsplat 1.0-1.3
follow exactly the rules of `_torch_ref`; later releases compute tighter, opacity-aware tile boxes, which can
only remove contributions that lie outside the 3-sigma box (tiny differences at Gaussian fringes).
"""

from __future__ import annotations

from vasa3d.errors import InputError
from vasa3d.render._torch_ref import EPS2D, FAR_PLANE, NEAR_PLANE, TILE_SIZE


def rasterize_gsplat(means, quats, scales, opacities, colors, viewmats, Ks, width, height, backgrounds=None):
    """gsplat rasterization; arguments and conventions as `vasa3d.render.rasterize`.

    Returns (rgb [C,H,W,D], alpha [C,H,W,1], depth [C,H,W,1]) on the CUDA device, differentiable in the
    Gaussian parameters and backgrounds. Raises InputError when gsplat is not installed or a tensor is not on
    a CUDA device.
    """
    try:
        import gsplat
    except ImportError as exc:  # pragma: no cover - depends on the machine
        raise InputError("backend 'gsplat' needs the gsplat package (pip install gsplat) and CUDA") from exc
    if means.device.type != "cuda":
        raise InputError(f"backend 'gsplat' needs the tensors on a CUDA device, got {means.device}")
    dim = colors.shape[1]
    render, alpha, _meta = gsplat.rasterization(
        means, quats, scales, opacities, colors, viewmats, Ks, width, height,
        near_plane=NEAR_PLANE, far_plane=FAR_PLANE, eps2d=EPS2D, tile_size=TILE_SIZE,
        backgrounds=backgrounds, render_mode="RGB+D", packed=False, rasterize_mode="classic",
    )
    return render[..., :dim], alpha, render[..., dim : dim + 1]


def gsplat_version() -> str | None:
    """The installed gsplat version, or None when it does not import (for reports; never raises)."""
    try:
        import gsplat
    except ImportError:
        return None
    return getattr(gsplat, "__version__", "unknown")

