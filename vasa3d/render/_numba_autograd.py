"""The numba CPU backend as a `torch.autograd.Function`: project, bin, composite; the backward pass replays the
tiles back to front (gsplat's scheme, Ye et al. 2024) and pushes the 2D gradients through the projection.

Inputs are read as contiguous float32 numpy arrays on the CPU; outputs are float32 tensors written in place by
the kernels and moved to the input device. Kernels compile on first use and are cached on disk by numba
(`cache=True`). They run on numba's thread pool (`numba.set_num_threads` / NUMBA_NUM_THREADS; all cores by
default).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import torch

from vasa3d.render._numba_project import REC, bin_tiles, blend_features, project_bwd, project_fwd
from vasa3d.render._numba_raster import FAST_CH, G_OP, raster_bwd, raster_fwd, raster_image
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


def tile_order(tiles: int | np.ndarray) -> np.ndarray:
    """Tiles dealt round-robin to the threads: prange splits its range into one contiguous chunk per thread, so
    thread t gets tiles t, t + T, t + 2T, ... and a head in the middle of the frame is shared evenly. `tiles`: how
    many tiles (all of them, 0..n-1), or the ascending indices [K] of the ones to draw."""
    tiles = np.arange(tiles, dtype=np.int64) if np.ndim(tiles) == 0 else np.asarray(tiles, np.int64)
    nt = max(1, numba.get_num_threads())
    return np.concatenate([tiles[t::nt] for t in range(nt)])


def features(cols: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """Blended features [N, max(FAST_CH, D + 1)]: the D colours of cols [N, D], camera z (from the projected
    records rec [N, REC]) at column D, zero padding."""
    return blend_features(cols, rec, max(FAST_CH, cols.shape[1] + 1))


def project_and_bin(means, quats, scales, opacities, viewmat, K, width, height):
    """Project N Gaussians (float32 arrays: means [N,3], quats [N,4], scales [N,3], opacities [N]) into one camera
    and sort them into depth-ordered 16 px tile lists. Returns (rec [N, REC], radii [N] int32, offsets
    [n_tiles + 1] int64, ids [n_isects] int32, tiles_x, tiles_y); see `_numba_project`."""
    n = means.shape[0]
    rec = np.empty((n, REC), dtype=np.float32)
    radii = np.empty(n, dtype=np.int32)
    rects = np.empty((n, 4), dtype=np.int32)
    project_fwd(means, quats, scales, opacities, viewmat, K, width, height, rec, radii, rects)
    tiles_x, tiles_y = math.ceil(width / TILE_SIZE), math.ceil(height / TILE_SIZE)
    offsets, ids = bin_tiles(rec, radii, rects, tiles_x, tiles_y, 2 * numba.get_num_threads())
    return rec, radii, offsets, ids, tiles_x, tiles_y


def forward_camera(arrs, cols, viewmat, K, width, height, bg, rgb, depth, alpha) -> _CameraState:
    """Render one camera into rgb [H,W,D], depth [H,W], alpha [H,W] (numpy views); returns its state.

    arrs = (means, quats, scales, opacities) float32 arrays, cols [N,D], bg [max(FAST_CH, D+1)] (zero padded).
    """
    rec, radii, offsets, ids, tiles_x, tiles_y = project_and_bin(*arrs, viewmat, K, width, height)
    trans = np.empty((height, width), dtype=np.float32)
    last = np.empty((height, width), dtype=np.int32)
    raster_fwd(rec, features(cols, rec), offsets, ids, tile_order(tiles_x * tiles_y), tiles_x, width,
               height, bg, rgb, depth, alpha, trans, last)
    return _CameraState(rec, radii, offsets, ids, trans, last)


def backward_camera(state, arrs, cols, viewmat, K, width, height, bg, v_img, v_a, grads, geometry=True) -> None:
    """Accumulate one camera's gradients into grads = [means, quats, scales, opacities, colors] arrays.

    v_img [H,W,F] output gradients of the blended features (colours, depth, zero padding), v_a [H,W] of alpha.
    geometry=False skips the projection backward (means, quats and scales keep zero gradients).
    """
    n, dim = cols.shape
    feats = features(cols, state.rec)
    tiles_x = math.ceil(width / TILE_SIZE)
    v_rec, v_feat = raster_bwd(state.rec, feats, state.offsets, state.ids, tile_order(state.offsets.shape[0] - 1),
                               tiles_x, width, height, bg, state.trans, state.last, v_img, v_a,
                               numba.get_num_threads())
    grads[4] += v_feat[:, :dim]
    if not geometry:
        grads[3] += v_rec[:, G_OP]
        return
    project_bwd(*arrs[:3], viewmat, K, width, height, state.radii, v_rec, np.ascontiguousarray(v_feat[:, dim]),
                grads[0], grads[1], grads[2], grads[3])


class _RasterizeNumba(torch.autograd.Function):
    """rgb, alpha, depth = f(means, quats, scales, opacities, colors, backgrounds) for fixed cameras."""

    @staticmethod
    def forward(ctx, means, quats, scales, opacities, colors, backgrounds, viewmats, Ks, width, height):
        arrs = tuple(_np32(t) for t in (means, quats, scales, opacities))
        cols, vms, ks = _np32(colors), _np32(viewmats), _np32(Ks)
        num_cams, dim = vms.shape[0], cols.shape[1]
        bgs = np.zeros((num_cams, max(FAST_CH, dim + 1)), dtype=np.float32)
        if backgrounds is not None:
            bgs[:, :dim] = _np32(backgrounds)
        rgb = torch.empty((num_cams, height, width, dim), dtype=torch.float32)
        alpha = torch.empty((num_cams, height, width, 1), dtype=torch.float32)
        depth = torch.empty((num_cams, height, width, 1), dtype=torch.float32)
        rgb_np, alpha_np, depth_np = rgb.numpy(), alpha.numpy()[..., 0], depth.numpy()[..., 0]
        ctx.states = [
            forward_camera(arrs, cols, vms[c], ks[c], width, height, bgs[c], rgb_np[c], depth_np[c], alpha_np[c])
            for c in range(num_cams)
        ]
        ctx.arrs, ctx.cols, ctx.cams = arrs, cols, (vms, ks, bgs, width, height)
        # dtype and device of each differentiable input, for its gradient
        ctx.like = [None if t is None else (t.dtype, t.device) for t in (means, quats, scales, opacities, colors,
                                                                          backgrounds)]
        dev = means.device
        return rgb.to(dev), alpha.to(dev), depth.to(dev)

    @staticmethod
    def backward(ctx, v_rgb, v_alpha, v_depth):
        vms, ks, bgs, width, height = ctx.cams
        num_cams, (n, dim) = vms.shape[0], ctx.cols.shape
        grads = [np.zeros_like(a) for a in ctx.arrs] + [np.zeros_like(ctx.cols)]
        v_img = np.zeros((num_cams, height, width, bgs.shape[1]), dtype=np.float32)
        v_a = np.zeros((num_cams, height, width), dtype=np.float32)
        if v_rgb is not None:
            v_img[..., :dim] = _np32(v_rgb)
        if v_depth is not None:
            v_img[..., dim] = _np32(v_depth)[..., 0]
        if v_alpha is not None:
            v_a[:] = _np32(v_alpha)[..., 0]
        v_bg = np.zeros((num_cams, dim), dtype=np.float32)
        for c, st in enumerate(ctx.states):
            backward_camera(st, ctx.arrs, ctx.cols, vms[c], ks[c], width, height, bgs[c], v_img[c], v_a[c], grads,
                            geometry=any(ctx.needs_input_grad[:3]))
            v_bg[c] = np.einsum("hwc,hw->c", v_img[c, ..., :dim], st.trans)
        out = [None if like is None else torch.from_numpy(g).to(dtype=like[0], device=like[1])
               for g, like in zip(grads + [v_bg], ctx.like)]
        return (*out, None, None, None, None)


def rasterize_numba(means, quats, scales, opacities, colors, viewmats, Ks, width, height, backgrounds=None):
    """Numba CPU rasterization; arguments and conventions as `vasa3d.render.rasterize`.

    Returns (rgb [C,H,W,D], alpha [C,H,W,1], depth [C,H,W,1]) float32 on the input device, differentiable in
    means, quats, scales, opacities, colors and backgrounds.
    """
    return _RasterizeNumba.apply(means, quats, scales, opacities, colors, backgrounds, viewmats, Ks, width, height)


@dataclass
class ImageCache:
    """The tiles one renderer's next frame may keep from its last one (`render_image_numba`).

    A tile whose depth-ordered list holds only Gaussians that never move (`still`, e.g. the torso of a talking
    head whose head turns and speaks above it), or none at all, comes out the same in the next frame when that
    one is also seen by the same camera over the same plate, and its list is still made of such Gaussians: the
    same Gaussians, projected alike, composited alike. Such tiles are copied instead of composited (a third of the
    compositing of a 512 px talking-head frame). Owned by one renderer; not for concurrent calls.

    Attributes:
        still: bool [N] (the renderer's Gaussian order): Gaussians whose parameters are the same in every frame.
        key: the last frame's (viewmat, K, width, height, plate) identity. frame: uint8 [H, W, 3] the last frame.
        static: bool [n_tiles] the last frame's tiles drawn from still Gaussians only (or none).
        kept: tiles copied in the last call. plate: the last plate array (held, so its address, part of the key,
        cannot be reused by another array).
    """

    still: np.ndarray
    key: tuple | None = None
    plate: np.ndarray | None = None
    frame: np.ndarray | None = None
    static: np.ndarray | None = None
    kept: int = 0


def _static_tiles(still: np.ndarray, offsets: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """bool [n_tiles]: tiles whose lists (`offsets`, `ids` from `bin_tiles`) hold only `still` Gaussians, or none."""
    counts = np.diff(offsets)
    moving = np.zeros(len(counts), np.int64)
    filled = counts > 0
    if filled.any():
        moving[filled] = np.add.reduceat((~still[ids]).astype(np.int64), offsets[:-1][filled])
    return moving == 0


def render_image_numba(means, quats, scales, opacities, colors, viewmat, K, width, height, plate,
                       cache: ImageCache | None = None) -> np.ndarray:
    """One camera's RGB over a background image, straight to uint8, without gradients (the numba kernels'
    inference path; same pixels as `rasterize_numba` composited over `plate`, to within one 8-bit level).

    means [N,3], quats [N,4], scales [N,3], opacities [N], colors [N,3] (tensors or arrays; conventions of
    `vasa3d.render.rasterize`); viewmat [4,4]; K [3,3]; plate [H,W,3] float32 in [0, 1].
    cache: an `ImageCache` of the caller's previous frame (updated here): tiles that cannot have changed are
        copied from it; the result is the same, pixel for pixel.
    Returns uint8 [H,W,3] (a numpy array of its own).
    """
    arrs = tuple(_np32(t) if isinstance(t, torch.Tensor) else np.ascontiguousarray(t, np.float32)
                 for t in (means, quats, scales, opacities, colors, viewmat, K, plate))
    means, quats, scales, opacities, cols, vm, k, plate = arrs
    rec, _, offsets, ids, tiles_x, tiles_y = project_and_bin(means, quats, scales, opacities, vm, k, width, height)
    n_tiles = tiles_x * tiles_y
    if cache is None or len(cache.still) != len(means):
        out = np.empty((height, width, 3), dtype=np.uint8)
        raster_image(rec, cols, offsets, ids, tile_order(n_tiles), tiles_x, width, height, plate, out)
        return out
    key = (vm.tobytes(), k.tobytes(), width, height, plate.__array_interface__["data"][0], plate.shape)
    static = _static_tiles(cache.still, offsets, ids)
    keep = static & cache.static if cache.key == key and cache.static is not None else np.zeros(n_tiles, bool)
    out = cache.frame if keep.any() else np.empty((height, width, 3), dtype=np.uint8)
    raster_image(rec, cols, offsets, ids, tile_order(np.flatnonzero(~keep)), tiles_x, width, height, plate, out)
    cache.key, cache.plate, cache.frame, cache.static, cache.kept = key, plate, out, static, int(keep.sum())
    return out.copy()
