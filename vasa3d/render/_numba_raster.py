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
from numba import njit, prange

from vasa3d.render._numba_project import REC_A, REC_B, REC_C, REC_EXT_Y, REC_OP, REC_U, REC_V
from vasa3d.render._torch_ref import ALPHA_MAX, ALPHA_MIN, T_MIN, TILE_SIZE

_F = np.float32
_TS = TILE_SIZE
_PIX = TILE_SIZE * TILE_SIZE
_AMAX, _AMIN, _TMIN = _F(ALPHA_MAX), _F(ALPHA_MIN), _F(T_MIN)
_ZERO, _HALF, _ONE = _F(0.0), _F(0.5), _F(1.0)
_S_MAX = _F(12.0)  # exp(-12) * 1 < 1/255: sigma beyond this never contributes, so it is clamped for the exp
_LOG2E, _LN2_HI, _LN2_LO = _F(1.4426950408889634), _F(0.693145751953125), _F(1.428606765330187e-06)
_C2, _C3, _C4, _C5, _C6, _C7 = _F(1 / 2), _F(1 / 6), _F(1 / 24), _F(1 / 120), _F(1 / 720), _F(1 / 5040)
_JIT = dict(cache=True, fastmath=True, error_model="numpy", nogil=True)

# gradient row layout per intersection: d/d(u, v, a, b, c, opacity), then d/d(feature f) at 6 + f
G_U, G_V, G_A, G_B, G_C, G_OP, G_FEAT = range(7)


@njit(inline="always", **_JIT)
def _exp_neg_parts(s):
    """exp(-s) for s in [0, _S_MAX] as (mantissa polynomial, exponent bits of 2^-m): exp(-s) = q * 2^-m."""
    sc = min(max(s, _ZERO), _S_MAX)
    m = np.int32(sc * _LOG2E + _HALF)
    mf = _F(m)
    x = mf * _LN2_HI - sc + mf * _LN2_LO  # -s + m ln2, |x| <= ln2 / 2
    q = _ONE + x * (_ONE + x * (_C2 + x * (_C3 + x * (_C4 + x * (_C5 + x * (_C6 + x * _C7))))))
    return q, (np.int32(127) - m) << np.int32(23)


@njit(inline="always", **_JIT)
def _row_range(v, ext, y0f):
    """Tile rows [r0, r1) whose pixel centres can lie within ext of v (one row of margin each side)."""
    lo = v - ext - _HALF - y0f
    hi = v + ext - _HALF - y0f
    r0 = np.int64(min(max(lo, _ZERO), _F(_TS)))
    r1 = np.int64(min(max(hi + _ONE, -_ONE), _F(_TS - 1))) + 1
    return r0, r1


@njit(inline="always", **_JIT)
def _tile_start(tile, tiles_x, width, height, trans, row_live):
    """Set trans to 1 inside the image and -1 (done) outside; count live pixels per row."""
    ty = tile // tiles_x
    x0, y0 = (tile - ty * tiles_x) * _TS, ty * _TS
    live = 0
    for r in range(_TS):
        n = 0
        for i in range(_TS):
            inside = (y0 + r < height) and (x0 + i < width)
            trans[r * _TS + i] = _ONE if inside else -_ONE
            n += 1 if inside else 0
        row_live[r] = n
        live += n
    return x0, y0, live


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
        tile = tile_order[k]
        trans = np.empty(_PIX, dtype=np.float32)
        acc = np.zeros((nf, _PIX), dtype=np.float32)
        last = np.zeros(_PIX, dtype=np.int32)
        row_live = np.empty(_TS, dtype=np.int64)
        wgt = np.empty(_TS, dtype=np.float32)
        qbuf = np.empty(_TS, dtype=np.float32)
        ebits = np.empty(_TS, dtype=np.int32)
        escale = ebits.view(np.float32)
        x0, y0, live = _tile_start(tile, tiles_x, width, height, trans, row_live)
        x0f, y0f = _F(x0) + _HALF, _F(y0)
        start = offsets[tile]
        for j in range(start, offsets[tile + 1]):
            if live == 0:
                break
            g = ids[j]
            u, v, op = rec[g, REC_U], rec[g, REC_V], rec[g, REC_OP]
            ca, cb, cc = rec[g, REC_A], rec[g, REC_B], rec[g, REC_C]
            r0, r1 = _row_range(v, rec[g, REC_EXT_Y], y0f)
            tag = np.int32(j - start + 1)
            for r in range(r0, r1):
                if row_live[r] == 0:
                    continue
                dy = v - (y0f + _F(r) + _HALF)
                bx = cb * dy
                sy = _HALF * cc * dy * dy
                for i in range(_TS):
                    dx = u - (x0f + _F(i))
                    q, e = _exp_neg_parts(_HALF * ca * dx * dx + bx * dx + sy)
                    qbuf[i] = q
                    ebits[i] = e
                nstop = 0
                nadd = 0
                base = r * _TS
                for i in range(_TS):
                    dx = u - (x0f + _F(i))
                    s = _HALF * ca * dx * dx + bx * dx + sy
                    alpha = min(_AMAX, op * (qbuf[i] * escale[i]))
                    t = trans[base + i]
                    ok = (s >= _ZERO) & (alpha >= _AMIN) & (t > _ZERO)
                    nt = t * (_ONE - alpha)
                    add = ok & (nt > _TMIN)
                    stop = ok & (nt <= _TMIN)
                    wgt[i] = alpha * t if add else _ZERO
                    trans[base + i] = nt if add else (-t if stop else t)
                    last[base + i] = tag if add else last[base + i]
                    nstop += 1 if stop else 0
                    nadd += 1 if add else 0
                if nadd > 0:
                    for f in range(nf):
                        col = feats[g, f]
                        for i in range(_TS):
                            acc[f, base + i] += wgt[i] * col
                row_live[r] -= nstop
                live -= nstop
        for p in range(_PIX):
            y, x = y0 + p // _TS, x0 + p % _TS
            if y < height and x < width:
                t = abs(trans[p])
                out_t[y, x] = t
                out_last[y, x] = last[p]
                for f in range(nf):
                    out[y, x, f] = acc[f, p] + t * bg[f]



@njit(inline="always", **_JIT)
def _load_tile_grads(tile, tiles_x, width, height, bg, trans_img, last_img, v_img, v_a, trans, last, vr, vfin):
    """Copy one tile's saved forward state and output gradients into tile-local arrays (zeros outside)."""
    nf = bg.shape[0]
    ty = tile // tiles_x
    x0, y0 = (tile - ty * tiles_x) * _TS, ty * _TS
    for p in range(_PIX):
        y, x = y0 + p // _TS, x0 + p % _TS
        if y < height and x < width:
            t = trans_img[y, x]
            trans[p] = t
            last[p] = last_img[y, x]
            bgdot = _ZERO
            for f in range(nf):
                vr[f, p] = v_img[y, x, f]
                bgdot += bg[f] * v_img[y, x, f]
            vfin[p] = t * (v_a[y, x] - bgdot)  # d(out)/d(alpha_i) through T_final, times (1 - alpha_i)
        else:
            trans[p] = _ONE
            last[p] = 0
            vfin[p] = _ZERO
            for f in range(nf):
                vr[f, p] = _ZERO
    return x0, y0


@njit(parallel=True, **_JIT)
def raster_bwd(rec, feats, offsets, ids, tile_order, tiles_x, width, height, bg, trans_img, last_img, v_img, v_a):
    """Gradients of the tile compositing, replayed back to front from the saved final transmittance.

    Arguments as `raster_fwd` plus its outputs trans_img [H,W] and last_img [H,W], and the output gradients
    v_img [H,W,F] (colours then depth) and v_a [H,W] (alpha). Returns isect [n_isects, G_FEAT + F]: for each
    tile-list entry, d loss / d (u, v, conic a, b, c, opacity, features) of that Gaussian in that tile.
    """
    nf = feats.shape[1]
    isect = np.zeros((ids.shape[0], G_FEAT + nf), dtype=np.float32)
    for k in prange(tile_order.shape[0]):
        tile = tile_order[k]
        trans = np.empty(_PIX, dtype=np.float32)
        last = np.empty(_PIX, dtype=np.int32)
        vr = np.empty((nf, _PIX), dtype=np.float32)
        vfin = np.empty(_PIX, dtype=np.float32)
        buf = np.zeros((nf, _PIX), dtype=np.float32)
        x0, y0 = _load_tile_grads(tile, tiles_x, width, height, bg, trans_img, last_img, v_img, v_a,
                                  trans, last, vr, vfin)
        row_max = np.zeros(_TS, dtype=np.int64)
        for p in range(_PIX):
            row_max[p // _TS] = max(row_max[p // _TS], np.int64(last[p]))
        qbuf = np.empty(_TS, dtype=np.float32)
        ebits = np.empty(_TS, dtype=np.int32)
        escale = ebits.view(np.float32)
        fac = np.empty(_TS, dtype=np.float32)
        ram = np.empty(_TS, dtype=np.float32)
        tm = np.empty(_TS, dtype=np.float32)
        va = np.empty(_TS, dtype=np.float32)
        acc = np.empty((G_FEAT + nf, _TS), dtype=np.float32)
        x0f, y0f = _F(x0) + _HALF, _F(y0)
        start = offsets[tile]
        for jj in range(row_max.max() - 1, -1, -1):
            g = ids[start + jj]
            u, v, op = rec[g, REC_U], rec[g, REC_V], rec[g, REC_OP]
            ca, cb, cc = rec[g, REC_A], rec[g, REC_B], rec[g, REC_C]
            r0, r1 = _row_range(v, rec[g, REC_EXT_Y], y0f)
            acc[:] = _ZERO
            hit = False
            for r in range(r0, r1):
                if row_max[r] <= jj:
                    continue
                hit = True
                base = r * _TS
                dy = v - (y0f + _F(r) + _HALF)
                bx = cb * dy
                sy = _HALF * cc * dy * dy
                for i in range(_TS):
                    dx = u - (x0f + _F(i))
                    q, e = _exp_neg_parts(_HALF * ca * dx * dx + bx * dx + sy)
                    qbuf[i] = q
                    ebits[i] = e
                for i in range(_TS):
                    dx = u - (x0f + _F(i))
                    s = _HALF * ca * dx * dx + bx * dx + sy
                    vis = qbuf[i] * escale[i]
                    alpha = min(_AMAX, op * vis)
                    ok = (jj < last[base + i]) & (s >= _ZERO) & (alpha >= _AMIN)
                    ra = _ONE / (_ONE - alpha)
                    t = trans[base + i]
                    tn = t * ra if ok else t
                    trans[base + i] = tn
                    fac[i] = alpha * tn if ok else _ZERO
                    ram[i] = ra if ok else _ZERO
                    tm[i] = tn if ok else _ZERO
                    va[i] = vfin[base + i] * ra if ok else _ZERO
                    qbuf[i] = vis
                for f in range(nf):
                    col = feats[g, f]
                    for i in range(_TS):
                        w = vr[f, base + i]
                        va[i] += (col * tm[i] - buf[f, base + i] * ram[i]) * w
                        buf[f, base + i] += col * fac[i]
                        acc[G_FEAT + f, i] += fac[i] * w
                for i in range(_TS):
                    dx = u - (x0f + _F(i))
                    vis = qbuf[i]
                    unclamped = op * vis <= _AMAX
                    vs = -op * vis * va[i] if unclamped else _ZERO
                    acc[G_OP, i] += vis * va[i] if unclamped else _ZERO
                    acc[G_A, i] += _HALF * vs * dx * dx
                    acc[G_B, i] += vs * dx * dy
                    acc[G_C, i] += _HALF * vs * dy * dy
                    acc[G_U, i] += vs * (ca * dx + cb * dy)
                    acc[G_V, i] += vs * (cb * dx + cc * dy)
            if hit:
                for c in range(G_FEAT + nf):
                    tot = _ZERO
                    for i in range(_TS):
                        tot += acc[c, i]
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
