"""The numba CPU backend as a `torch.autograd.Function`: project, bin, composite; the backward pass replays the
tiles back to front (gsplat's scheme, Ye et al. 2024) and pushes the 2D gradients through the projection.

Inputs are converted to contiguous float32 numpy arrays on the CPU; outputs come back as float32 tensors on the
input device. Kernels compile on first use and are cached on disk by numba (`cache=True`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import torch

from vasa3d.render._numba_project import REC, REC_Z, bin_tiles, project_bwd, project_fwd
from vasa3d.render._numba_raster import raster_bwd, raster_fwd, reduce_isect_grads
from vasa3d.render._torch_ref import TILE_SIZE


@dataclass
class _CameraState:
    """What one camera's forward pass keeps for the backward pass."""

    rec: np.ndarray        # [N, REC] projected Gaussians
    radii: np.ndarray      # [N] int32, 0 = culled
    offsets: np.ndarray    # [n_tiles + 1] int64
    ids: np.ndarray        # [n_isects] int32, per-tile lists front to back
    trans: np.ndarray      # [H, W] final transmittance
    last: np.ndarray       # [H, W] int32 list entries up to the last contributor


def _np32(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().to("cpu", torch.float32).numpy())


def tile_order(n_tiles: int) -> np.ndarray:
    """Tiles dealt round-robin to the threads: prange splits its range into one contiguous chunk per thread, so
    thread t gets tiles t, t + T, t + 2T, ... and a head in the middle of the frame is shared evenly."""
    nt = max(1, numba.get_num_threads())
    return np.concatenate([np.arange(t, n_tiles, nt, dtype=np.int64) for t in range(nt)])


def forward_camera(arrs, feats, viewmat, K, width, height, bg, out):
    """Render one camera into out [H,W,F] (F = D + 1, depth last); returns its _CameraState."""
    means, quats, scales, opacities = arrs
    n = means.shape[0]
    rec = np.zeros((n, REC), dtype=np.float32)
    radii = np.empty(n, dtype=np.int32)
    rects = np.empty((n, 4), dtype=np.int32)
    project_fwd(means, quats, scales, opacities, viewmat, K, width, height, rec, radii, rects)
    feats[:, -1] = rec[:, REC_Z]
    tiles_x, tiles_y = math.ceil(width / TILE_SIZE), math.ceil(height / TILE_SIZE)
    offsets, ids = bin_tiles(rec, radii, rects, tiles_x * tiles_y, tiles_x)
    trans = np.empty((height, width), dtype=np.float32)
    last = np.empty((height, width), dtype=np.int32)
    raster_fwd(rec, feats, offsets, ids, tile_order(tiles_x * tiles_y), tiles_x, width, height, bg, out, trans, last)
    return _CameraState(rec, radii, offsets, ids, trans, last)


class _RasterizeNumba(torch.autograd.Function):
    """rgb, alpha, depth = f(means, quats, scales, opacities, colors, backgrounds) for fixed cameras."""

    @staticmethod
    def forward(ctx, means, quats, scales, opacities, colors, backgrounds, viewmats, Ks, width, height):
        arrs = tuple(_np32(t) for t in (means, quats, scales, opacities))
        cols, vms, ks = _np32(colors), _np32(viewmats), _np32(Ks)
        num_cams, (n, dim) = vms.shape[0], cols.shape
        bgs = np.zeros((num_cams, dim + 1), dtype=np.float32)
        if backgrounds is not None:
            bgs[:, :dim] = _np32(backgrounds)
        out = np.empty((num_cams, height, width, dim + 1), dtype=np.float32)
        states = []
        for cam in range(num_cams):
            feats = np.empty((n, dim + 1), dtype=np.float32)
            feats[:, :dim] = cols
            states.append(forward_camera(arrs, feats, vms[cam], ks[cam], width, height, bgs[cam], out[cam]))
        trans = np.stack([s.trans for s in states])
        ctx.states, ctx.arrs, ctx.cols, ctx.cams = states, arrs, cols, (vms, ks, bgs, width, height)
        ctx.has_bg = backgrounds is not None
        dev = means.device
        rgb = torch.from_numpy(out[..., :dim]).to(dev)
        depth = torch.from_numpy(out[..., dim:]).to(dev)
        alpha = torch.from_numpy(1.0 - trans[..., None]).to(dev)
        return rgb, alpha, depth

    @staticmethod
    def backward(ctx, v_rgb, v_alpha, v_depth):
        vms, ks, bgs, width, height = ctx.cams
        means, quats, scales, opacities = ctx.arrs
        n, dim = ctx.cols.shape
        grads = [np.zeros_like(a) for a in ctx.arrs] + [np.zeros_like(ctx.cols)]
        v_bg = np.zeros((vms.shape[0], dim), dtype=np.float32)
        zeros = torch.zeros(())
        v_rgb, v_alpha, v_depth = (zeros.expand(1) if g is None else g for g in (v_rgb, v_alpha, v_depth))
        num_cams = vms.shape[0]
        v_img = np.zeros((num_cams, height, width, dim + 1), dtype=np.float32)
        v_img[..., :dim] = _np32(v_rgb) if v_rgb.dim() > 1 else 0.0
        v_img[..., dim:] = _np32(v_depth) if v_depth.dim() > 1 else 0.0
        v_a = np.zeros((num_cams, height, width), dtype=np.float32)
        if v_alpha.dim() > 1:
            v_a[:] = _np32(v_alpha)[..., 0]
        for cam, st in enumerate(ctx.states):
            feats = np.empty((n, dim + 1), dtype=np.float32)
            feats[:, :dim] = ctx.cols
            feats[:, -1] = st.rec[:, REC_Z]
            tiles_x = math.ceil(width / TILE_SIZE)
            isect = raster_bwd(st.rec, feats, st.offsets, st.ids, tile_order(st.offsets.shape[0] - 1), tiles_x,
                               width, height, bgs[cam], st.trans, st.last, v_img[cam], v_a[cam])
            v_rec, v_feat = reduce_isect_grads(isect, st.ids, n, dim + 1, numba.get_num_threads())
            grads[4] += v_feat[:, :dim]
            project_bwd(means, quats, scales, vms[cam], ks[cam], width, height, st.radii, v_rec, v_feat[:, dim],
                        grads[0], grads[1], grads[2], grads[3])
            v_bg[cam] = np.einsum("hwc,hw->c", v_img[cam, ..., :dim], st.trans)
        dev = v_rgb.device
        out = [torch.from_numpy(g).to(dev) for g in grads]
        bg_grad = torch.from_numpy(v_bg).to(dev) if ctx.has_bg else None
        return (*out, bg_grad, None, None, None, None)


def rasterize_numba(means, quats, scales, opacities, colors, viewmats, Ks, width, height, backgrounds=None):
    """Numba CPU rasterization; arguments and conventions as `vasa3d.render.rasterize`.

    Returns (rgb [C,H,W,D], alpha [C,H,W,1], depth [C,H,W,1]) float32 on the input device, differentiable in
    means, quats, scales, opacities, colors and backgrounds.
    """
    return _RasterizeNumba.apply(means, quats, scales, opacities, colors, backgrounds, viewmats, Ks, width, height)
