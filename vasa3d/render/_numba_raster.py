"""Numba tile kernels: front-to-back compositing (forward) and its exact reverse-order gradient (backward).

The rules are `_torch_ref._composite_tile`'s (gsplat `rasterize_to_pixels`, Ye et al. 2024; 3DGS, Kerbl et al.
2023). Speed comes from three things (see FACTS.md, "CPU rasterizer"):
- a tile's Gaussians are visited front to back and, per Gaussian, only the tile rows its alpha >= 1/255 region
  can reach (REC_EXT_Y); each row is 16 pixels evaluated branch-free (selects, no early exits), which LLVM
  vectorises (one AVX-512 register, two AVX2 ones; a scalar build works too);
- exp(-sigma) is a float32 polynomial (Cody-Waite range reduction, degree-7 Taylor, ~1 ulp) since `math.exp`
  is a scalar libm call;
- a pixel that is done is marked by a negative transmittance (-T_final), so the done test is a select, and a
  tile stops when all its pixels are done.
Both kernels run in parallel over tiles (prange); the backward writes one gradient row per (tile, Gaussian)
intersection, so threads never share an output cell.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from vasa3d.render._numba_project import (
    REC_A, REC_B, REC_C, REC_DET, REC_EXT_X, REC_EXT_Y, REC_INV_A, REC_OP, REC_TWO_A_TAU, REC_U, REC_V,
)
from vasa3d.render._torch_ref import ALPHA_MAX, ALPHA_MIN, T_MIN, TILE_SIZE

_F = np.float32
_TS = TILE_SIZE
_HW = TILE_SIZE // 2  # lanes per vector loop: half a tile row
_AMAX, _AMIN, _TMIN = _F(ALPHA_MAX), _F(ALPHA_MIN), _F(T_MIN)
_ZERO, _HALF, _ONE = _F(0.0), _F(0.5), _F(1.0)
_S_MAX = _F(12.0)  # exp(-12) * 1 < 1/255: sigma beyond this never contributes, so it is clamped for the exp
_LOG2E, _LN2_HI, _LN2_LO = _F(1.4426950408889634), _F(0.693145751953125), _F(1.428606765330187e-06)
_C2, _C3, _C4, _C5, _C6, _C7 = _F(1 / 2), _F(1 / 6), _F(1 / 24), _F(1 / 120), _F(1 / 720), _F(1 / 5040)
_JIT = dict(cache=True, fastmath=True, error_model="numpy", nogil=True)

# gradient row layout per intersection: d/d(u, v, a, b, c, opacity), then d/d(feature f) at 6 + f
G_U, G_V, G_A, G_B, G_C, G_OP, G_FEAT = range(7)

# Tile workspaces are [16 rows, columns] float32 arrays; the lane loops index one row view at fixed column
# offsets, so LLVM sees one base pointer and needs no runtime overlap checks.
# forward columns: transmittance (negative once the pixel is done), list position + 1 of the last contributor,
# weights of the current Gaussian, then the blended feature f at FW_ACC + 16 f
FW_T, FW_LAST, FW_W, FW_ACC = 0, 16, 32, 48
# backward columns: transmittance, last contributor, T_final-gradient term, then per-lane scratch
BW_T, BW_LAST, BW_VFIN, BW_FAC, BW_RA, BW_TM, BW_VA, BW_VIS, BW_VR = 0, 16, 32, 48, 64, 80, 96, 112, 128



@intrinsic
def _i32_as_f32(typingctx, x):
    """Reinterpret the bits of an int32 as a float32 (LLVM bitcast)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@njit(inline="always", **_JIT)
def _exp_neg(s):
    """exp(-s) in float32 for s in [0, _S_MAX] (clamped): 2^-m * exp(m ln2 - s), degree-7 Taylor, ~1 ulp."""
    sc = min(max(s, _ZERO), _S_MAX)
    m = np.int32(sc * _LOG2E + _HALF)
    mf = _F(m)
    x = mf * _LN2_HI - sc + mf * _LN2_LO  # |x| <= ln2 / 2
    q = _ONE + x * (_ONE + x * (_C2 + x * (_C3 + x * (_C4 + x * (_C5 + x * (_C6 + x * _C7))))))
    return q * _i32_as_f32((np.int32(127) - m) << np.int32(23))


@njit(inline="always", **_JIT)
def _row_range(v, ext, y0f):
    """Tile rows [r0, r1) whose pixel centres can lie within ext of v (one row of margin each side)."""
    lo = v - ext - _HALF - y0f
    hi = v + ext - _HALF - y0f
    r0 = np.int64(min(max(lo, _ZERO), _F(_TS)))
    r1 = np.int64(min(max(hi + _ONE, -_ONE), _F(_TS - 1))) + 1
    return r0, r1


@njit(inline="always", **_JIT)
def _row_halves(rec_g, u, dy, x0f):
    """Which 8-pixel halves of a tile row the visible ellipse can reach: (h_start, h_stop) in {0, 8, 16},
    from its exact x-interval on this row with one pixel of margin; (0, 0) when the row misses it."""
    disc = rec_g[REC_TWO_A_TAU] - rec_g[REC_DET] * dy * dy
    if disc < _ZERO:
        return 0, 0
    half = np.sqrt(disc) * rec_g[REC_INV_A]
    mid = u + rec_g[REC_B] * dy * rec_g[REC_INV_A] - x0f  # in lanes: lane i is at offset i
    lo, hi = mid - half, mid + half
    h0 = 0 if lo <= _F(_HW) else _HW
    h1 = _TS if hi >= _F(_HW - 1) else _HW
    if hi < -_ONE or lo > _F(_TS):
        return 0, 0
    return h0, h1


@njit(inline="always", **_JIT)
def _tile_origin(tile, tiles_x):
    ty = tile // tiles_x
    return (tile - ty * tiles_x) * _TS, ty * _TS


@njit(inline="always", **_JIT)
def _fwd_half(w, wgt, u, ca, bx, sy, op, xh, tag):
    """Composite one Gaussian over 8 pixels of a row (w: workspace row view from the first of them;
    branch-free so it vectorises); returns (pixels done, pixels added)."""
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
        wgt[i] = alpha * t if add else _ZERO
        tt = nt if add else t
        w[FW_T + i] = -tt if stop else tt
        w[FW_LAST + i] = tag if add else lst
        nstop += np.int64(stop)
        nadd += np.int64(add)
    return nstop, nadd


@njit(inline="always", **_JIT)
def _skip_in_tile(rec_g, u, x0f):
    """True when the Gaussian's visible ellipse misses the tile's columns (it can still be in the list)."""
    ext = rec_g[REC_EXT_X] + _ONE
    return (u + ext < x0f) | (u - ext > x0f + _F(_TS - 1))


@njit(parallel=True, **_JIT)
def raster_fwd(rec, feats, offsets, ids, tile_order, tiles_x, width, height, bg, out, out_t, out_last):
    """Composite every tile front to back.

    rec [N,REC] projected Gaussians; feats [N,F] values to blend (colours then depth); offsets/ids from
    `bin_tiles`; tile_order [n_tiles] the order tiles are handed to threads; bg [F].
    Writes out [H,W,F] (blended + T_final bg), out_t [H,W] final transmittance, out_last [H,W] number of
    entries of the tile list up to and including the last one that contributed (for the backward pass).
    """
    nf = feats.shape[1]
    for k in prange(tile_order.shape[0]):
        x0, y0 = _tile_origin(tile_order[k], tiles_x)
        ws = np.zeros((_TS, FW_ACC + _TS * nf), dtype=np.float32)
        wgt = np.empty(_HW, dtype=np.float32)
        row_live = np.zeros(_TS, dtype=np.int64)
        for r in range(_TS):
            for i in range(_TS):
                inside = (y0 + r < height) & (x0 + i < width)
                ws[r, FW_T + i] = _ONE if inside else -_ONE
                row_live[r] += np.int64(inside)
        live = row_live.sum()
        x0f, y0f = _F(x0) + _HALF, _F(y0)
        start, end = offsets[tile_order[k]], offsets[tile_order[k] + 1]
        for j in range(start, end):
            if live == 0:
                break
            g = ids[j]
            rg = rec[g]
            u, v, op = rg[REC_U], rg[REC_V], rg[REC_OP]
            if _skip_in_tile(rg, u, x0f):
                continue
            ca, cb, cc = rg[REC_A], rg[REC_B], rg[REC_C]
            r0, r1 = _row_range(v, rg[REC_EXT_Y], y0f)
            tag = _F(j - start + 1)
            for r in range(r0, r1):
                if row_live[r] == 0:
                    continue
                dy = v - (y0f + _F(r) + _HALF)
                h0, h1 = _row_halves(rg, u, dy, x0f)
                for h in range(h0, h1, _HW):
                    w = ws[r, h:]
                    nstop, nadd = _fwd_half(w, wgt, u, ca, cb * dy, _HALF * cc * dy * dy, op, x0f + _F(h), tag)
                    if nadd > 0:
                        for f in range(nf):
                            col = feats[g, f]
                            o = FW_ACC + _TS * f
                            for i in range(_HW):
                                w[o + i] += wgt[i] * col
                    row_live[r] -= nstop
                    live -= nstop
        for r in range(min(_TS, height - y0)):
            for i in range(min(_TS, width - x0)):
                t = abs(ws[r, FW_T + i])
                out_t[y0 + r, x0 + i] = t
                out_last[y0 + r, x0 + i] = np.int32(ws[r, FW_LAST + i])
                for f in range(nf):
                    out[y0 + r, x0 + i, f] = ws[r, FW_ACC + _TS * f + i] + t * bg[f]


@njit(inline="always", **_JIT)
def _bwd_tile_start(x0, y0, width, height, bg, trans_img, last_img, v_img, v_a, ws):
    """Fill the backward workspace rows with the saved state and output gradients; returns row_max [16], the
    largest last-contributor position per row (0 outside the image)."""
    nf = bg.shape[0]
    row_max = np.zeros(_TS, dtype=np.int64)
    for r in range(min(_TS, height - y0)):
        for i in range(min(_TS, width - x0)):
            y, x = y0 + r, x0 + i
            t = trans_img[y, x]
            ws[r, BW_T + i] = t
            ws[r, BW_LAST + i] = _F(last_img[y, x])
            row_max[r] = max(row_max[r], np.int64(last_img[y, x]))
            bgdot = _ZERO
            for f in range(nf):
                ws[r, BW_VR + _TS * f + i] = v_img[y, x, f]
                bgdot += bg[f] * v_img[y, x, f]
            ws[r, BW_VFIN + i] = t * (v_a[y, x] - bgdot)  # d out / d alpha_i through T_final, times (1 - alpha_i)
    return row_max


@njit(inline="always", **_JIT)
def _bwd_half(w, gacc, g, feats, u, ca, cb, cc, dy, op, xh, jjf):
    """Undo one Gaussian on 8 pixels of a row (w: workspace row view from the first of them) and add its
    per-lane gradients to gacc [G_FEAT + F, 8] (rows as G_*)."""
    nf = feats.shape[1]
    bx, sy = cb * dy, _HALF * cc * dy * dy
    for i in range(_HW):
        dx = u - (xh + _F(i))
        s = _HALF * ca * dx * dx + bx * dx + sy
        vis = _exp_neg(s)
        alpha = min(_AMAX, op * vis)
        ok = (jjf < w[BW_LAST + i]) & (s >= _ZERO) & (alpha >= _AMIN)
        ra = _ONE / (_ONE - alpha)
        t = w[BW_T + i]
        tn = t * ra if ok else t
        w[BW_T + i] = tn
        w[BW_FAC + i] = alpha * tn if ok else _ZERO
        w[BW_RA + i] = ra if ok else _ZERO
        w[BW_TM + i] = tn if ok else _ZERO
        w[BW_VA + i] = w[BW_VFIN + i] * ra if ok else _ZERO
        w[BW_VIS + i] = vis
    ob = BW_VR + _TS * nf
    for f in range(nf):
        col = feats[g, f]
        o_vr, o_buf = BW_VR + _TS * f, ob + _TS * f
        for i in range(_HW):
            vr = w[o_vr + i]
            w[BW_VA + i] += (col * w[BW_TM + i] - w[o_buf + i] * w[BW_RA + i]) * vr
            w[o_buf + i] += col * w[BW_FAC + i]
            gacc[G_FEAT + f, i] += w[BW_FAC + i] * vr
    for i in range(_HW):
        dx = u - (xh + _F(i))
        ov = op * w[BW_VIS + i]
        va = w[BW_VA + i]
        unclamped = ov <= _AMAX
        vs = -ov * va if unclamped else _ZERO
        gacc[G_OP, i] += w[BW_VIS + i] * va if unclamped else _ZERO
        gacc[G_A, i] += _HALF * vs * dx * dx
        gacc[G_B, i] += vs * dx * dy
        gacc[G_C, i] += _HALF * vs * dy * dy
        gacc[G_U, i] += vs * (ca * dx + cb * dy)
        gacc[G_V, i] += vs * (cb * dx + cc * dy)


@njit(parallel=True, **_JIT)
def raster_bwd(rec, feats, offsets, ids, tile_order, tiles_x, width, height, bg, trans_img, last_img, v_img, v_a):
    """Gradients of the tile compositing, replayed back to front from the saved final transmittance.

    Arguments as `raster_fwd` plus its outputs trans_img [H,W] and last_img [H,W], and the output gradients
    v_img [H,W,F] (colours then depth) and v_a [H,W] (alpha). Returns isect [n_isects, G_FEAT + F]: for each
    tile-list entry, d loss / d (u, v, conic a, b, c, opacity, features) of that Gaussian in that tile.
    """
    nf = feats.shape[1]
    ng = G_FEAT + nf
    isect = np.zeros((ids.shape[0], ng), dtype=np.float32)
    for k in prange(tile_order.shape[0]):
        x0, y0 = _tile_origin(tile_order[k], tiles_x)
        ws = np.zeros((_TS, BW_VR + 2 * _TS * nf), dtype=np.float32)
        gacc = np.empty((ng, _HW), dtype=np.float32)
        row_max = _bwd_tile_start(x0, y0, width, height, bg, trans_img, last_img, v_img, v_a, ws)
        x0f, y0f = _F(x0) + _HALF, _F(y0)
        start = offsets[tile_order[k]]
        for jj in range(row_max.max() - 1, -1, -1):
            g = ids[start + jj]
            rg = rec[g]
            u, v, op = rg[REC_U], rg[REC_V], rg[REC_OP]
            if _skip_in_tile(rg, u, x0f):
                continue
            ca, cb, cc = rg[REC_A], rg[REC_B], rg[REC_C]
            r0, r1 = _row_range(v, rg[REC_EXT_Y], y0f)
            gacc[:] = _ZERO
            for r in range(r0, r1):
                if row_max[r] <= jj:
                    continue
                dy = v - (y0f + _F(r) + _HALF)
                h0, h1 = _row_halves(rg, u, dy, x0f)
                for h in range(h0, h1, _HW):
                    _bwd_half(ws[r, h:], gacc, g, feats, u, ca, cb, cc, dy, op, x0f + _F(h), _F(jj))
            for c in range(ng):
                tot = _ZERO
                for i in range(_HW):
                    tot += gacc[c, i]
                isect[start + jj, c] = tot
    return isect


@njit(parallel=True, **_JIT)
def reduce_isect_grads(isect, ids, n, nf, n_chunks):
    """Sum the per-intersection gradient rows per Gaussian: returns v_rec [n, G_FEAT] (u, v, a, b, c, opacity)
    and v_feat [n, nf]. Each of n_chunks parallel tasks sums a contiguous run of intersections into its own
    buffer (no shared writes), then the buffers are added."""
    width = G_FEAT + nf
    part = np.zeros((n_chunks, n, width), dtype=np.float32)
    m = ids.shape[0]
    for c in prange(n_chunks):
        for j in range(c * m // n_chunks, (c + 1) * m // n_chunks):
            g = ids[j]
            for k in range(width):
                part[c, g, k] += isect[j, k]
    tot = np.zeros((n, width), dtype=np.float32)
    for g in prange(n):
        for c in range(n_chunks):
            for k in range(width):
                tot[g, k] += part[c, g, k]
    return tot[:, :G_FEAT].copy(), tot[:, G_FEAT:].copy()
