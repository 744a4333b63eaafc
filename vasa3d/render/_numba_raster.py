"""Numba tile kernels: front-to-back compositing (forward) and its exact reverse-order gradient (backward).

The rules are `_torch_ref._composite_tile`'s (gsplat `rasterize_to_pixels`, Ye et al. 2024; 3DGS, Kerbl et al.
2023). Speed comes from (see FACTS.md, "CPU rasterizer"):
- visiting, per tile and Gaussian (front to back), only the pixels its visible ellipse (opacity exp(-sigma) >=
  1/255, see `_numba_project`) can reach: a Gaussian whose ellipse misses the tile's columns is skipped, then
  per row the ellipse's exact x-interval (one pixel of margin) picks the 8-pixel half rows to evaluate;
- evaluating a half row branch-free (selects, no early exits) at fixed offsets of one workspace row view, so
  LLVM vectorises it without runtime overlap checks (one AVX2/AVX-512 register; any x86-64 works);
- exp(-sigma) as a float32 polynomial (Cody-Waite range reduction, degree-6 Taylor, ~1 ulp): `math.exp` is a
  scalar libm call;
- marking a finished pixel by a negative transmittance (-T_final), and stopping a tile when all its pixels are
  finished.
The first FAST_CH features (colours + depth, zero-padded by the caller) are blended inside the lane loop at
constant offsets; features beyond them take a generic, slower loop. Both kernels run in parallel over tiles
(prange); the backward adds each Gaussian's gradients into its thread's own table, so threads never share an
output cell.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import get_thread_id, njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

from vasa3d.render._numba_project import (
    REC_A, REC_B, REC_C, REC_DET, REC_EXT_X, REC_EXT_Y, REC_INV_A, REC_OP, REC_TWO_A_TAU, REC_U, REC_V, _bits_f32,
)
# The kernels' constants are literals here, not imported: numba's on-disk cache is keyed on this file only, so an
# imported value that changed would keep being served stale from the cache. tests/test_rasterize.py checks that
# they equal the reference's (vasa3d.render._torch_ref).
ALPHA_MAX = 0.99
ALPHA_MIN = 1.0 / 255.0
T_MIN = 1e-4
TILE_SIZE = 16

FAST_CH = 4  # features blended at constant offsets (RGB + depth); callers pad feats to at least this many
_F = np.float32
_TS = TILE_SIZE
_HW = TILE_SIZE // 2  # lanes per vector loop: half a tile row
_MARGIN = _F(0.25)  # px of slack on a half row's reach test (the pixel test itself is exact)
_PREFETCH = 8  # Gaussian records are prefetched this many list entries ahead
_AMAX, _AMIN, _TMIN = _F(ALPHA_MAX), _F(ALPHA_MIN), _F(T_MIN)
_ZERO, _HALF, _ONE = _F(0.0), _F(0.5), _F(1.0)
_S_MAX = _F(12.0)  # exp(-12) * 1 < 1/255: sigma beyond this never contributes, so it is clamped for the exp
_LOG2E, _LN2_HI, _LN2_LO = _F(1.4426950408889634), _F(0.693145751953125), _F(1.428606765330187e-06)
_C2, _C3, _C4, _C5, _C6 = _F(1 / 2), _F(1 / 6), _F(1 / 24), _F(1 / 120), _F(1 / 720)
_JIT = dict(cache=True, fastmath=True, error_model="numpy", nogil=True)

# gradient row layout per list entry: d/d(u, v, a, b, c, opacity), then d/d(feature f) at G_FEAT + f
G_U, G_V, G_A, G_B, G_C, G_OP, G_FEAT = range(7)

# Tile workspaces are [16 rows, columns] float32; a column block of 16 holds one value per pixel of the row.
# forward blocks: transmittance (negative once the pixel is done), list position + 1 of the last contributor
# (as float), weight of the current Gaussian, then blended feature f at FW_ACC + 16 f
FW_T, FW_LAST, FW_W, FW_ACC = 0, 16, 32, 48
# backward blocks: transmittance, last contributor, T_final term, scratch; then for fast feature f its output
# gradient (BW_VR + 16 f) and the blend of what lies behind (BW_BUF + 16 f); then per extra feature
# f >= FAST_CH: output gradient and blend behind at BW_EXTRA + 32 (f - FAST_CH) + 0 / 16
BW_T, BW_LAST, BW_VFIN, BW_FAC, BW_RA, BW_TM, BW_VA, BW_VIS = 0, 16, 32, 48, 64, 80, 96, 112
BW_VR = 128
BW_BUF = BW_VR + 16 * FAST_CH
BW_EXTRA = BW_BUF + 16 * FAST_CH


@intrinsic
def _prefetch_row(typingctx, arr, row):
    """Hint the CPU to fetch the first cache line of arr[row] (2D C-contiguous array) into all cache levels."""
    sig = types.void(arr, row)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer2(context, builder, ary.data, cgutils.unpack_tuple(builder, ary.shape),
                                        cgutils.unpack_tuple(builder, ary.strides), aryty.layout,
                                        [context.cast(builder, args[1], signature.args[1], types.intp), zero],
                                        wraparound=False, boundscheck=False)
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])  # read, keep, data cache
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def _cttz(typingctx, x):
    """Index of the lowest set bit of a non-zero int64 (LLVM cttz)."""
    sig = types.int64(types.int64)

    def codegen(context, builder, signature, args):
        i64 = ir.IntType(64)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(i64, [i64, ir.IntType(1)]),
                                            "llvm.cttz.i64")
        return builder.call(fn, [args[0], ir.Constant(ir.IntType(1), 1)])

    return sig, codegen


@njit(inline="always", **_JIT)
def _exp_neg(s):
    """exp(-s) in float32 for s in [0, _S_MAX] (clamped): 2^-m * exp(m ln2 - s), degree-6 Taylor on |x| <= ln2 / 2
    (truncation error |x|^7 / 7! <= 1.2e-7 relative, about one float32 ulp)."""
    sc = min(max(s, _ZERO), _S_MAX)
    m = np.int32(sc * _LOG2E + _HALF)
    mf = _F(m)
    x = mf * _LN2_HI - sc + mf * _LN2_LO  # |x| <= ln2 / 2
    q = _ONE + x * (_ONE + x * (_C2 + x * (_C3 + x * (_C4 + x * (_C5 + x * _C6)))))
    return q * _bits_f32((np.int32(127) - m) << np.int32(23))


@njit(inline="always", **_JIT)
def _need_mask(rg, u, v, x0f, y0f):
    """Bit 2 r + h (r: tile row, h: left / right 8-pixel half) is set when the Gaussian's visible ellipse can
    reach that half row: from the ellipse's exact x-interval on the row's centre line, _MARGIN px of slack.
    All 16 rows are computed at once (vectorised)."""
    two_a_tau, det, inv_a, b = rg[REC_TWO_A_TAU], rg[REC_DET], rg[REC_INV_A], rg[REC_B]
    mask = np.int64(0)
    for r in range(_TS):
        dy = v - (y0f + _F(r) + _HALF)
        disc = two_a_tau - det * dy * dy
        half = np.sqrt(max(disc, _ZERO)) * inv_a
        mid = u + b * dy * inv_a - x0f
        lo, hi = mid - half, mid + half
        ok = disc >= _ZERO
        left = ok & (lo <= _F(_HW - 1) + _MARGIN) & (hi >= -_MARGIN)
        right = ok & (lo <= _F(_TS - 1) + _MARGIN) & (hi >= _F(_HW) - _MARGIN)
        mask |= (np.int64(left) << (2 * r)) | (np.int64(right) << (2 * r + 1))
    return mask


@njit(inline="always", **_JIT)
def _skip_in_tile(rg, u, v, x0f, y0f):
    """True when the Gaussian's visible ellipse misses the tile's pixel centres by more than a pixel (tiles are
    listed by the larger square 3-sigma box). x0f, y0f: centre of the tile's first column, top of its first row."""
    ex, ey = rg[REC_EXT_X] + _ONE, rg[REC_EXT_Y] + _ONE
    yc = y0f + _HALF
    return (u + ex < x0f) | (u - ex > x0f + _F(_TS - 1)) | (v + ey < yc) | (v - ey > yc + _F(_TS - 1))


@njit(inline="always", **_JIT)
def _tile_origin(tile, tiles_x):
    ty = tile // tiles_x
    return (tile - ty * tiles_x) * _TS, ty * _TS


@njit(inline="always", **_JIT)
def _fwd_tile_start(x0, y0, width, height, ws, live_h):
    """Start a forward tile: transmittance 1 in the workspace `ws` for pixels inside the image (-1, i.e. already
    finished, outside it), `live_h` [32] counting the unfinished pixels per half row; returns the bit mask of half
    rows (bit 2 r + h) that still have unfinished pixels."""
    for r in range(_TS):
        for i in range(_TS):
            inside = (y0 + r < height) & (x0 + i < width)
            ws[r, FW_T + i] = _ONE if inside else -_ONE
            live_h[2 * r + i // _HW] += np.int64(inside)
    live = np.int64(0)
    for b in range(2 * _TS):
        live |= np.int64(live_h[b] > 0) << b
    return live


@njit(inline="always", **_JIT)
def _fwd_half(w, fg, u, ca, bx, sy, op, xh, tag):
    """Composite one Gaussian (features fg) over 8 pixels of a row; w is the workspace row view starting at
    the first of them. Returns (pixels finished, pixels added)."""
    c0, c1, c2, c3 = fg[0], fg[1], fg[2], fg[3]
    nstop = 0
    nadd = 0
    for i in range(_HW):
        dx = u - (xh + _F(i))
        s = _HALF * ca * dx * dx + bx * dx + sy
        alpha = min(_AMAX, op * _exp_neg(s))
        t = w[FW_T + i]
        lst = w[FW_LAST + i]
        ok = (s >= _ZERO) & (alpha >= _AMIN) & (t > _ZERO)
        nt = t * (_ONE - alpha)
        add = ok & (nt > _TMIN)
        stop = ok & (nt <= _TMIN)
        wv = alpha * t if add else _ZERO
        tt = nt if add else t
        w[FW_T + i] = -tt if stop else tt
        w[FW_LAST + i] = tag if add else lst
        w[FW_W + i] = wv
        w[FW_ACC + i] += wv * c0
        w[FW_ACC + 16 + i] += wv * c1
        w[FW_ACC + 32 + i] += wv * c2
        w[FW_ACC + 48 + i] += wv * c3
        nstop += np.int64(stop)
        nadd += np.int64(add)
    for f in range(FAST_CH, fg.shape[0]):  # extra features: generic loop
        col = fg[f]
        for i in range(_HW):
            w[FW_ACC + _TS * f + i] += w[FW_W + i] * col
    return nstop, nadd


@njit(parallel=True, **_JIT)
def raster_fwd(rec, feats, offsets, ids, tile_order, tiles_x, width, height, bg, rgb, depth, alpha, out_t,
               out_last):
    """Composite every tile front to back.

    rec [N,REC] projected Gaussians; feats [N,F] (F >= FAST_CH) values to blend: D colours, camera z, zero
    padding; offsets/ids from `bin_tiles`; tile_order [n_tiles] the order tiles are handed to threads;
    bg [F] (zero from column D on). Writes rgb [H,W,D] (blend + T_final bg), depth [H,W] (blended z),
    alpha [H,W] (1 - T_final), out_t [H,W] (T_final) and out_last [H,W]: the number of entries of the tile's
    list up to and including the last one that contributed (for the backward pass).
    """
    nf, n_color = feats.shape[1], rgb.shape[2]
    for k in prange(tile_order.shape[0]):
        x0, y0 = _tile_origin(tile_order[k], tiles_x)
        ws = np.zeros((_TS, FW_ACC + _TS * nf), dtype=np.float32)
        live_h = np.zeros(2 * _TS, dtype=np.int64)  # pixels not finished per half row, index 2 r + h
        live = _fwd_tile_start(x0, y0, width, height, ws, live_h)
        x0f, y0f = _F(x0) + _HALF, _F(y0)
        start, end = offsets[tile_order[k]], offsets[tile_order[k] + 1]
        for j in range(start, end):
            if live == 0:
                break
            if j + _PREFETCH < end:
                _prefetch_row(rec, ids[j + _PREFETCH])
                _prefetch_row(feats, ids[j + _PREFETCH])
            g = ids[j]
            rg = rec[g]
            u, v = rg[REC_U], rg[REC_V]
            if _skip_in_tile(rg, u, v, x0f, y0f):
                continue
            todo = _need_mask(rg, u, v, x0f, y0f) & live
            tag = _F(j - start + 1)
            while todo != 0:
                b = _cttz(todo)
                todo &= todo - 1
                r, h = b >> 1, (b & 1) * _HW
                dy = v - (y0f + _F(r) + _HALF)
                nstop, _ = _fwd_half(ws[r, h:], feats[g], u, rg[REC_A], rg[REC_B] * dy,
                                     _HALF * rg[REC_C] * dy * dy, rg[REC_OP], x0f + _F(h), tag)
                live_h[b] -= nstop
                if live_h[b] == 0:
                    live &= ~(np.int64(1) << b)
        for r in range(min(_TS, height - y0)):
            for i in range(min(_TS, width - x0)):
                t = abs(ws[r, FW_T + i])
                out_t[y0 + r, x0 + i] = t
                out_last[y0 + r, x0 + i] = np.int32(ws[r, FW_LAST + i])
                alpha[y0 + r, x0 + i] = _ONE - t
                for f in range(n_color):
                    rgb[y0 + r, x0 + i, f] = ws[r, FW_ACC + _TS * f + i] + t * bg[f]
                depth[y0 + r, x0 + i] = ws[r, FW_ACC + _TS * n_color + i]


@njit(inline="always", **_JIT)
def _img_half(w, fg, u, ca, bx, sy, op, xh):
    """`_fwd_half` for inference: three colour channels, no last-contributor tag, no per-Gaussian weight row.
    Returns the number of pixels finished."""
    c0, c1, c2 = fg[0], fg[1], fg[2]
    nstop = 0
    for i in range(_HW):
        dx = u - (xh + _F(i))
        s = _HALF * ca * dx * dx + bx * dx + sy
        alpha = min(_AMAX, op * _exp_neg(s))
        t = w[FW_T + i]
        ok = (s >= _ZERO) & (alpha >= _AMIN) & (t > _ZERO)
        nt = t * (_ONE - alpha)
        add = ok & (nt > _TMIN)
        stop = ok & (nt <= _TMIN)
        wv = alpha * t if add else _ZERO
        tt = nt if add else t
        w[FW_T + i] = -tt if stop else tt
        w[FW_ACC + i] += wv * c0
        w[FW_ACC + 16 + i] += wv * c1
        w[FW_ACC + 32 + i] += wv * c2
        nstop += np.int64(stop)
    return nstop


@njit(parallel=True, **_JIT)
def raster_image(rec, feats, offsets, ids, tile_order, tiles_x, width, height, plate, out):
    """Inference-only compositing of RGB over a background image, straight to 8-bit.

    The rules of `raster_fwd` (same pixels, same early termination) for the first three features only, with
    nothing kept for a backward pass: out [H,W,3] uint8 = round(255 clip(sum_i w_i c_i + T_final plate, 0, 1)),
    plate [H,W,3] float32 in [0, 1]. Saves the separate compositing, clamping and conversion passes of a
    rendered float image (about 2 ms per 512 px frame on one core).
    """
    for k in prange(tile_order.shape[0]):
        x0, y0 = _tile_origin(tile_order[k], tiles_x)
        ws = np.zeros((_TS, FW_ACC + _TS * 3), dtype=np.float32)
        live_h = np.zeros(2 * _TS, dtype=np.int64)
        live = _fwd_tile_start(x0, y0, width, height, ws, live_h)
        x0f, y0f = _F(x0) + _HALF, _F(y0)
        start, end = offsets[tile_order[k]], offsets[tile_order[k] + 1]
        for j in range(start, end):
            if live == 0:
                break
            if j + _PREFETCH < end:
                _prefetch_row(rec, ids[j + _PREFETCH])
                _prefetch_row(feats, ids[j + _PREFETCH])
            g = ids[j]
            rg = rec[g]
            u, v = rg[REC_U], rg[REC_V]
            if _skip_in_tile(rg, u, v, x0f, y0f):
                continue
            todo = _need_mask(rg, u, v, x0f, y0f) & live
            while todo != 0:
                b = _cttz(todo)
                todo &= todo - 1
                r, h = b >> 1, (b & 1) * _HW
                dy = v - (y0f + _F(r) + _HALF)
                nstop = _img_half(ws[r, h:], feats[g], u, rg[REC_A], rg[REC_B] * dy, _HALF * rg[REC_C] * dy * dy,
                                  rg[REC_OP], x0f + _F(h))
                live_h[b] -= nstop
                if live_h[b] == 0:
                    live &= ~(np.int64(1) << b)
        for r in range(min(_TS, height - y0)):
            for i in range(min(_TS, width - x0)):
                t = abs(ws[r, FW_T + i])
                for f in range(3):
                    val = ws[r, FW_ACC + _TS * f + i] + t * plate[y0 + r, x0 + i, f]
                    out[y0 + r, x0 + i, f] = np.uint8(min(max(val, _ZERO), _ONE) * _F(255.0) + _HALF)


@njit(inline="always", **_JIT)
def _vr_col(f):
    """Workspace column of the output gradient of feature f (its blend-behind column is 16 further on)."""
    return BW_VR + _TS * f if f < FAST_CH else BW_EXTRA + 2 * _TS * (f - FAST_CH)


@njit(inline="always", **_JIT)
def _bwd_tile_start(x0, y0, width, height, bg, trans_img, last_img, v_img, v_a, ws):
    """Fill the backward workspace rows with the saved state and output gradients; returns max_h [32], the
    largest last-contributor position per half row (index 2 r + h; 0 outside the image)."""
    nf = bg.shape[0]
    max_h = np.zeros(2 * _TS, dtype=np.int64)
    for r in range(min(_TS, height - y0)):
        for i in range(min(_TS, width - x0)):
            y, x = y0 + r, x0 + i
            t = trans_img[y, x]
            ws[r, BW_T + i] = t
            ws[r, BW_LAST + i] = _F(last_img[y, x])
            max_h[2 * r + i // _HW] = max(max_h[2 * r + i // _HW], np.int64(last_img[y, x]))
            bgdot = _ZERO
            for f in range(nf):
                ws[r, _vr_col(f) + i] = v_img[y, x, f]
                bgdot += bg[f] * v_img[y, x, f]
            ws[r, BW_VFIN + i] = t * (v_a[y, x] - bgdot)  # d out / d alpha_i through T_final, times (1 - alpha_i)
    return max_h


@njit(inline="always", **_JIT)
def _bwd_half(w, fg, u, ca, cb, cc, dy, op, xh, jjf, grad):
    """Undo one Gaussian (features fg) on 8 pixels of a row (w: workspace row view starting at the first of
    them) and add its gradients, summed over the 8 pixels, to grad [G_FEAT + F] (layout G_*).

    Per pixel: T_before = T_after / (1 - alpha); dL/dalpha = sum_f (c_f T_before - behind_f / (1 - alpha)) v_f
    + T_final-terms / (1 - alpha); dL/dsigma = -opacity exp(-sigma) dL/dalpha unless alpha was clamped.
    The sums of dL/dsigma * (1, dx, dx^2) give the conic and mean gradients (dy is fixed on a row).
    """
    c0, c1, c2, c3 = fg[0], fg[1], fg[2], fg[3]
    bx, sy = cb * dy, _HALF * cc * dy * dy
    s0 = s1 = s2 = s3 = sv0 = svx = svxx = so = _ZERO
    for i in range(_HW):
        dx = u - (xh + _F(i))
        s = _HALF * ca * dx * dx + bx * dx + sy
        vis = _exp_neg(s)
        ov = op * vis
        alpha = min(_AMAX, ov)
        ok = (jjf < w[BW_LAST + i]) & (s >= _ZERO) & (alpha >= _AMIN)
        ra = _ONE / (_ONE - alpha)
        t = w[BW_T + i]
        tn = t * ra if ok else t
        w[BW_T + i] = tn
        fac = alpha * tn if ok else _ZERO
        ram = ra if ok else _ZERO
        tm = tn if ok else _ZERO
        v0, v1, v2, v3 = w[BW_VR + i], w[BW_VR + 16 + i], w[BW_VR + 32 + i], w[BW_VR + 48 + i]
        b0, b1, b2, b3 = w[BW_BUF + i], w[BW_BUF + 16 + i], w[BW_BUF + 32 + i], w[BW_BUF + 48 + i]
        va = w[BW_VFIN + i] * ram + ((c0 * tm - b0 * ram) * v0 + (c1 * tm - b1 * ram) * v1
                                     + (c2 * tm - b2 * ram) * v2 + (c3 * tm - b3 * ram) * v3)
        w[BW_BUF + i] = b0 + c0 * fac
        w[BW_BUF + 16 + i] = b1 + c1 * fac
        w[BW_BUF + 32 + i] = b2 + c2 * fac
        w[BW_BUF + 48 + i] = b3 + c3 * fac
        s0 += fac * v0
        s1 += fac * v1
        s2 += fac * v2
        s3 += fac * v3
        keep = vis if ov <= _AMAX else _ZERO  # no gradient through a clamped alpha
        vs = -op * keep * va  # dL/dsigma
        so += keep * va
        sv0 += vs
        svx += vs * dx
        svxx += vs * dx * dx
        w[BW_FAC + i], w[BW_RA + i], w[BW_TM + i], w[BW_VIS + i], w[BW_VA + i] = fac, ram, tm, keep, _ZERO
    grad[G_FEAT] += s0
    grad[G_FEAT + 1] += s1
    grad[G_FEAT + 2] += s2
    grad[G_FEAT + 3] += s3
    if fg.shape[0] > FAST_CH:  # extra features: generic loops, then their share of dL/dalpha
        for f in range(FAST_CH, fg.shape[0]):
            col = fg[f]
            o = BW_EXTRA + 2 * _TS * (f - FAST_CH)
            sf = _ZERO
            for i in range(_HW):
                vr = w[o + i]
                w[BW_VA + i] += (col * w[BW_TM + i] - w[o + _TS + i] * w[BW_RA + i]) * vr
                w[o + _TS + i] += col * w[BW_FAC + i]
                sf += w[BW_FAC + i] * vr
            grad[G_FEAT + f] += sf
        for i in range(_HW):
            dx = u - (xh + _F(i))
            vs = -op * w[BW_VIS + i] * w[BW_VA + i]
            so += w[BW_VIS + i] * w[BW_VA + i]
            sv0 += vs
            svx += vs * dx
            svxx += vs * dx * dx
    grad[G_A] += _HALF * svxx
    grad[G_B] += svx * dy
    grad[G_C] += _HALF * sv0 * dy * dy
    grad[G_U] += ca * svx + cb * dy * sv0
    grad[G_V] += cb * svx + cc * dy * sv0
    grad[G_OP] += so


@njit(parallel=True, **_JIT)
def raster_bwd(rec, feats, offsets, ids, tile_order, tiles_x, width, height, bg, trans_img, last_img, v_img, v_a,
               n_threads):
    """Gradients of the tile compositing, replayed back to front from the saved final transmittance.

    Arguments as `raster_fwd` plus its outputs trans_img [H,W] and last_img [H,W], and the output gradients
    v_img [H,W,F] (colours, depth, padding) and v_a [H,W] (alpha); n_threads: numba's thread count. Returns
    (v_rec [N, G_FEAT]: d loss / d (u, v, conic a, b, c, opacity), v_feat [N, F]) per Gaussian. Each thread adds
    into its own gradient table (tiles are split statically among threads, so the sums are deterministic for a
    given thread count), and the tables are summed at the end.
    """
    nf = feats.shape[1]
    n = rec.shape[0]
    acc = np.zeros((n_threads, n, G_FEAT + nf), dtype=np.float32)
    for k in prange(tile_order.shape[0]):
        tid = get_thread_id()
        x0, y0 = _tile_origin(tile_order[k], tiles_x)
        ws = np.zeros((_TS, BW_EXTRA + 2 * _TS * max(nf - FAST_CH, 0)), dtype=np.float32)
        max_h = _bwd_tile_start(x0, y0, width, height, bg, trans_img, last_img, v_img, v_a, ws)
        by_max = np.argsort(-max_h)  # half rows (index 2 r + h) in order of their last contributor, descending
        n_on = 0
        active = np.int64(0)  # bit 2 r + h: some pixel of that half row has a contributor at or after jj
        x0f, y0f = _F(x0) + _HALF, _F(y0)
        start = offsets[tile_order[k]]
        for jj in range(max_h.max() - 1, -1, -1):
            while n_on < 2 * _TS and max_h[by_max[n_on]] > jj:
                active |= np.int64(1) << by_max[n_on]
                n_on += 1
            if jj >= _PREFETCH:
                _prefetch_row(rec, ids[start + jj - _PREFETCH])
                _prefetch_row(feats, ids[start + jj - _PREFETCH])
            g = ids[start + jj]
            rg = rec[g]
            u, v = rg[REC_U], rg[REC_V]
            if _skip_in_tile(rg, u, v, x0f, y0f):
                continue
            todo = _need_mask(rg, u, v, x0f, y0f) & active
            while todo != 0:
                b = _cttz(todo)
                todo &= todo - 1
                r, h = b >> 1, (b & 1) * _HW
                _bwd_half(ws[r, h:], feats[g], u, rg[REC_A], rg[REC_B], rg[REC_C], v - (y0f + _F(r) + _HALF),
                          rg[REC_OP], x0f + _F(h), _F(jj), acc[tid, g])
    tot = np.empty((n, G_FEAT + nf), dtype=np.float32)
    for gi in prange(n):
        for c in range(G_FEAT + nf):
            s = _ZERO
            for t in range(n_threads):
                s += acc[t, gi, c]
            tot[gi, c] = s
    return tot[:, :G_FEAT].copy(), tot[:, G_FEAT:].copy()
