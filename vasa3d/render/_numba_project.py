"""Numba kernels for the per-Gaussian stages: EWA projection (forward and backward) and depth-ordered tile binning.

Same rules as `_torch_ref.project` / `tile_ranges` (gsplat, Ye et al. 2024; 3DGS, Kerbl et al. 2023), in float32.
A projected Gaussian is one row of a flat float32 record array `rec [N, REC]` (one array with fixed offsets keeps
numba from emitting aliasing checks in the raster loops):
    REC_U, REC_V: 2D mean (px); REC_A, REC_B, REC_C: conic (sigma = 0.5 a dx^2 + b dx dy + 0.5 c dy^2);
    REC_OP: opacity; REC_Z: camera z (m);
    the visible region, where opacity * exp(-sigma) >= 1/255, i.e. sigma <= tau = ln(255 opacity) (tau is
    padded by TAU_PAD so that rounding never hides a visible pixel; the kernels test every pixel exactly):
    REC_EXT_X, REC_EXT_Y: its half width and height (px); REC_TWO_A_TAU = 2 a tau, REC_DET = a c - b^2 and
    REC_INV_A = 1 / a give its x-interval on a pixel row at offset dy: u + (b dy +- sqrt(2 a tau - det dy^2)) / a.
Culled Gaussians have radius 0 and are never binned.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

# The kernels' constants are literals here, not imported: numba's on-disk cache is keyed on this file only, so an
# imported value that changed would keep being served stale from the cache. tests/test_rasterize.py checks that
# they equal the reference's (vasa3d.render._torch_ref).
ALPHA_MIN = 1.0 / 255.0
EPS2D = 0.3
FAR_PLANE = 1e10
FOV_CLAMP = 0.3
NEAR_PLANE = 0.01
TILE_SIZE = 16

REC = 12
REC_U, REC_V, REC_A, REC_B, REC_C, REC_OP, REC_Z, REC_EXT_X, REC_EXT_Y, REC_TWO_A_TAU, REC_DET, REC_INV_A = range(REC)
TAU_PAD = 0.01

_F = np.float32
_NEAR, _FAR, _EPS2D, _FOVC = _F(NEAR_PLANE), _F(FAR_PLANE), _F(EPS2D), _F(FOV_CLAMP)
_LOG_INV_ALPHA_MIN = _F(math.log(1.0 / ALPHA_MIN))
_TAU_PAD = _F(TAU_PAD)
_TS = TILE_SIZE
_JIT = dict(cache=True, fastmath=True, error_model="numpy", nogil=True)
_N_CHUNKS = 64  # per-Gaussian loops run as this many parallel chunks


@njit(inline="always", **_JIT)
def _ceil_nonneg(x):
    """ceil(x) as int32 for 0 <= x < 2^31, branch-free (math.ceil is a libm call that stops vectorisation)."""
    i = np.int32(x)
    return i + np.int32(_F(i) < x)


@njit(inline="always", **_JIT)
def _rotmat(w, x, y, z):
    """Rotation matrix entries (row-major) of a unit wxyz quaternion."""
    two = _F(2.0)
    one = _F(1.0)
    return (
        one - two * (y * y + z * z), two * (x * y - w * z), two * (x * z + w * y),
        two * (x * y + w * z), one - two * (x * x + z * z), two * (y * z - w * x),
        two * (x * z - w * y), two * (y * z + w * x), one - two * (x * x + y * y),
    )


@njit(inline="always", **_JIT)
def _covar_cam(quat, scale, vm, a):
    """Camera-space 3D covariance (6 unique entries, row-major upper triangle) of one Gaussian."""
    qn = math.sqrt(quat[0] * quat[0] + quat[1] * quat[1] + quat[2] * quat[2] + quat[3] * quat[3])
    inv = _F(1.0) / qn
    r = _rotmat(quat[0] * inv, quat[1] * inv, quat[2] * inv, quat[3] * inv)
    # A = Rw Rq S (3x3, written into the scratch array a); Sigma_c = A A^T
    for i in range(3):
        for j in range(3):
            a[i, j] = (vm[i, 0] * r[j] + vm[i, 1] * r[3 + j] + vm[i, 2] * r[6 + j]) * scale[j]
    s00 = a[0, 0] * a[0, 0] + a[0, 1] * a[0, 1] + a[0, 2] * a[0, 2]
    s01 = a[0, 0] * a[1, 0] + a[0, 1] * a[1, 1] + a[0, 2] * a[1, 2]
    s02 = a[0, 0] * a[2, 0] + a[0, 1] * a[2, 1] + a[0, 2] * a[2, 2]
    s11 = a[1, 0] * a[1, 0] + a[1, 1] * a[1, 1] + a[1, 2] * a[1, 2]
    s12 = a[1, 0] * a[2, 0] + a[1, 1] * a[2, 1] + a[1, 2] * a[2, 2]
    s22 = a[2, 0] * a[2, 0] + a[2, 1] * a[2, 1] + a[2, 2] * a[2, 2]
    return s00, s01, s02, s11, s12, s22


# project_fwd works on blocks of _LANES Gaussians: their inputs are copied into one scratch row at fixed offsets
# (slot k of Gaussian i at _LANES * k + i), one branch-free loop over the block computes every output into the same
# row (LLVM vectorises it: constant offsets into one array need no runtime overlap checks), and the outputs are
# copied out. Input slots, then output slots:
_LANES = 16
_I_MX, _I_MY, _I_MZ, _I_QW, _I_QX, _I_QY, _I_QZ, _I_SX, _I_SY, _I_SZ, _I_OP = range(11)
_O_REC = 11                                  # REC slots from here, in REC order
_O_RADIUS, _O_X0, _O_X1, _O_Y0, _O_Y1 = range(_O_REC + REC, _O_REC + REC + 5)
_SLOTS = _O_Y1 + 1
_LN2 = _F(0.6931471805599453)


@njit(inline="always", **_JIT)
def _log_pos(x):
    """Natural log of a positive, normal float32 x, branch-free (vectorises; math.log is a libm call): x = m 2^e
    with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(t), t = (m - 1) / (m + 1), |t| <= 0.172, by its series to t^9
    (truncation below 1e-8 relative)."""
    bits = _f32_bits(x)
    e = ((bits >> np.int32(23)) & np.int32(255)) - np.int32(127)
    m = _bits_f32((bits & np.int32(0x007FFFFF)) | np.int32(0x3F800000))   # in [1, 2)
    big = m > _F(1.4142135)
    m = m * _F(0.5) if big else m
    e = e + np.int32(big)
    t = (m - _F(1.0)) / (m + _F(1.0))
    t2 = t * t
    series = t * (_F(2.0) + t2 * (_F(2.0 / 3.0) + t2 * (_F(2.0 / 5.0) + t2 * (_F(2.0 / 7.0) + t2 * _F(2.0 / 9.0)))))
    return _F(e) * _LN2 + series


@intrinsic
def _f32_bits(typingctx, x):
    """The bits of a float32 as an int32 (LLVM bitcast)."""
    sig = types.int32(types.float32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return sig, codegen


@intrinsic
def _bits_f32(typingctx, x):
    """An int32's bits as a float32 (LLVM bitcast)."""
    sig = types.float32(types.int32)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return sig, codegen


@njit(inline="always", **_JIT)
def _project_block(sb, vm, fx, fy, cx, cy, w, h, lxp, lxn, lyp, lyn, tiles_x, tiles_y):
    """Project the _LANES Gaussians whose inputs are in the scratch row sb; writes their outputs to sb (all zero
    for a culled Gaussian). The rules of the module docstring; branch-free."""
    zero, one, two, half = _F(0.0), _F(1.0), _F(2.0), _F(0.5)
    L = _LANES
    for i in range(L):
        mx, my, mz = sb[_I_MX * L + i], sb[_I_MY * L + i], sb[_I_MZ * L + i]
        x = vm[0, 0] * mx + vm[0, 1] * my + vm[0, 2] * mz + vm[0, 3]
        y = vm[1, 0] * mx + vm[1, 1] * my + vm[1, 2] * mz + vm[1, 3]
        z = vm[2, 0] * mx + vm[2, 1] * my + vm[2, 2] * mz + vm[2, 3]
        ok = (z >= _NEAR) & (z <= _FAR)
        zs = z if ok else one
        qw, qx, qy, qz = sb[_I_QW * L + i], sb[_I_QX * L + i], sb[_I_QY * L + i], sb[_I_QZ * L + i]
        qq = qw * qw + qx * qx + qy * qy + qz * qz
        inv = one / np.sqrt(qq if qq > zero else one)
        qw, qx, qy, qz = qw * inv, qx * inv, qy * inv, qz * inv
        r0, r1, r2, r3, r4, r5, r6, r7, r8 = _rotmat(qw, qx, qy, qz)
        sx, sy, sz = sb[_I_SX * L + i], sb[_I_SY * L + i], sb[_I_SZ * L + i]
        # A = Rw Rq S; Sigma_c = A A^T
        a00 = (vm[0, 0] * r0 + vm[0, 1] * r3 + vm[0, 2] * r6) * sx
        a01 = (vm[0, 0] * r1 + vm[0, 1] * r4 + vm[0, 2] * r7) * sy
        a02 = (vm[0, 0] * r2 + vm[0, 1] * r5 + vm[0, 2] * r8) * sz
        a10 = (vm[1, 0] * r0 + vm[1, 1] * r3 + vm[1, 2] * r6) * sx
        a11 = (vm[1, 0] * r1 + vm[1, 1] * r4 + vm[1, 2] * r7) * sy
        a12 = (vm[1, 0] * r2 + vm[1, 1] * r5 + vm[1, 2] * r8) * sz
        a20 = (vm[2, 0] * r0 + vm[2, 1] * r3 + vm[2, 2] * r6) * sx
        a21 = (vm[2, 0] * r1 + vm[2, 1] * r4 + vm[2, 2] * r7) * sy
        a22 = (vm[2, 0] * r2 + vm[2, 1] * r5 + vm[2, 2] * r8) * sz
        s00 = a00 * a00 + a01 * a01 + a02 * a02
        s01 = a00 * a10 + a01 * a11 + a02 * a12
        s02 = a00 * a20 + a01 * a21 + a02 * a22
        s11 = a10 * a10 + a11 * a11 + a12 * a12
        s12 = a10 * a20 + a11 * a21 + a12 * a22
        s22 = a20 * a20 + a21 * a21 + a22 * a22
        rz = one / zs
        tx = zs * min(lxp, max(-lxn, x * rz))
        ty = zs * min(lyp, max(-lyn, y * rz))
        j00, j02 = fx * rz, -fx * tx * rz * rz
        j11, j12 = fy * rz, -fy * ty * rz * rz
        ca = j00 * (j00 * s00 + j02 * s02) + j02 * (j00 * s02 + j02 * s22) + _EPS2D
        cb = j11 * (j00 * s01 + j02 * s12) + j12 * (j00 * s02 + j02 * s22)
        cc = j11 * (j11 * s11 + j12 * s12) + j12 * (j11 * s12 + j12 * s22) + _EPS2D
        det = ca * cc - cb * cb
        ok = ok & (det > zero)
        dets = det if ok else one
        half_tr = half * (ca + cc)
        v1 = half_tr + np.sqrt(max(_F(0.01), half_tr * half_tr - dets))
        radius = _F(_ceil_nonneg(_F(3.0) * np.sqrt(v1)))
        u = fx * x * rz + cx
        v = fy * y * rz + cy
        ok = ok & (radius > zero) & (u + radius > zero) & (u - radius < w) & (v + radius > zero) & (v - radius < h)
        inv_det = one / dets
        a, b, c = cc * inv_det, -cb * inv_det, ca * inv_det
        op = sb[_I_OP * L + i]
        tau = max(_log_pos(max(op, _F(1e-30))) + _LOG_INV_ALPHA_MIN + _TAU_PAD, zero)
        ext_x = np.sqrt(two * tau * ca)
        ext_y = np.sqrt(two * tau * cc)
        # tiles: gsplat's square 3-sigma box cut to the visible ellipse's bounding box (nothing outside the latter
        # reaches alpha >= 1/255, so the image is the same with fewer tile-list entries)
        trx = min(radius, ext_x) / _F(_TS)
        try_ = min(radius, ext_y) / _F(_TS)
        tcx, tcy = u / _F(_TS), v / _F(_TS)
        o = _O_REC * L + i
        sb[o + REC_U * L] = u if ok else zero
        sb[o + REC_V * L] = v if ok else zero
        sb[o + REC_A * L] = a if ok else zero
        sb[o + REC_B * L] = b if ok else zero
        sb[o + REC_C * L] = c if ok else zero
        sb[o + REC_OP * L] = op if ok else zero
        sb[o + REC_Z * L] = z if ok else zero
        sb[o + REC_EXT_X * L] = ext_x if ok else zero
        sb[o + REC_EXT_Y * L] = ext_y if ok else zero
        sb[o + REC_TWO_A_TAU * L] = two * a * tau if ok else zero
        sb[o + REC_DET * L] = a * c - b * b if ok else zero
        sb[o + REC_INV_A * L] = one / a if ok else zero
        sb[_O_RADIUS * L + i] = radius if ok else zero
        sb[_O_X0 * L + i] = _F(np.int32(min(max(tcx - trx, zero), _F(tiles_x)))) if ok else zero
        sb[_O_X1 * L + i] = _F(_ceil_nonneg(min(max(tcx + trx, zero), _F(tiles_x)))) if ok else zero
        sb[_O_Y0 * L + i] = _F(np.int32(min(max(tcy - try_, zero), _F(tiles_y)))) if ok else zero
        sb[_O_Y1 * L + i] = _F(_ceil_nonneg(min(max(tcy + try_, zero), _F(tiles_y)))) if ok else zero


@njit(parallel=True, **_JIT)
def project_fwd(means, quats, scales, opacities, vm, K, width, height, rec, radii, rects):
    """Project N Gaussians into one camera; fills rec [N,REC], radii [N] int32 (0 = culled) and the tile
    rectangles rects [N,4] int32 (x0, x1, y0, y1), half-open, in tiles."""
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    w, h = _F(width), _F(height)
    tan_fovx, tan_fovy = _F(0.5) * w / fx, _F(0.5) * h / fy
    lxp, lxn = (w - cx) / fx + _FOVC * tan_fovx, cx / fx + _FOVC * tan_fovx
    lyp, lyn = (h - cy) / fy + _FOVC * tan_fovy, cy / fy + _FOVC * tan_fovy
    tiles_x, tiles_y = (width + _TS - 1) // _TS, (height + _TS - 1) // _TS
    n_all = means.shape[0]
    n_blocks = (n_all + _LANES - 1) // _LANES
    for chunk in prange(_N_CHUNKS):  # per-chunk scratch: no allocation per block
        sb = np.zeros(_SLOTS * _LANES, dtype=np.float32)
        for blk in range(chunk * n_blocks // _N_CHUNKS, (chunk + 1) * n_blocks // _N_CHUNKS):
            base = blk * _LANES
            cnt = min(_LANES, n_all - base)
            for i in range(cnt):
                n = base + i
                sb[_I_MX * _LANES + i] = means[n, 0]
                sb[_I_MY * _LANES + i] = means[n, 1]
                sb[_I_MZ * _LANES + i] = means[n, 2]
                sb[_I_QW * _LANES + i] = quats[n, 0]
                sb[_I_QX * _LANES + i] = quats[n, 1]
                sb[_I_QY * _LANES + i] = quats[n, 2]
                sb[_I_QZ * _LANES + i] = quats[n, 3]
                sb[_I_SX * _LANES + i] = scales[n, 0]
                sb[_I_SY * _LANES + i] = scales[n, 1]
                sb[_I_SZ * _LANES + i] = scales[n, 2]
                sb[_I_OP * _LANES + i] = opacities[n]
            _project_block(sb, vm, fx, fy, cx, cy, w, h, lxp, lxn, lyp, lyn, tiles_x, tiles_y)
            for i in range(cnt):
                n = base + i
                for k in range(REC):
                    rec[n, k] = sb[(_O_REC + k) * _LANES + i]
                radii[n] = np.int32(sb[_O_RADIUS * _LANES + i])
                rects[n, 0] = np.int32(sb[_O_X0 * _LANES + i])
                rects[n, 1] = np.int32(sb[_O_X1 * _LANES + i])
                rects[n, 2] = np.int32(sb[_O_Y0 * _LANES + i])
                rects[n, 3] = np.int32(sb[_O_Y1 * _LANES + i])


@njit(**_JIT)
def blend_features(cols, rec, nf):
    """Features [N, nf] float32 the tile kernels blend: cols [N, D] (D < nf), camera z (rec[:, REC_Z]) at column D,
    zeros after it. One pass (numpy's zeros + two strided column copies took ~0.4 ms at N = 50k)."""
    n, dim = cols.shape
    out = np.empty((n, nf), dtype=np.float32)
    for i in range(n):
        for f in range(dim):
            out[i, f] = cols[i, f]
        out[i, dim] = rec[i, REC_Z]
        for f in range(dim + 1, nf):
            out[i, f] = _F(0.0)
    return out


@njit(**_JIT)
def _radix_argsort_f32(keys_u32, idx):
    """Stable LSD radix argsort (3 passes of 11 bits) of non-negative float32 bit patterns; permutes idx."""
    n = idx.shape[0]
    tmp = np.empty_like(idx)
    src, dst = idx, tmp
    for shift in (0, 11, 22):
        count = np.zeros(2049, dtype=np.int64)
        for i in range(n):
            count[((keys_u32[src[i]] >> shift) & 2047) + 1] += 1
        for b in range(2048):
            count[b + 1] += count[b]
        for i in range(n):
            k = (keys_u32[src[i]] >> shift) & 2047
            dst[count[k]] = src[i]
            count[k] += 1
        src, dst = dst, src
    return src  # three passes: the result ends in tmp


@njit(parallel=True, **_JIT)
def bin_tiles(rec, radii, rects, tiles_x, tiles_y, n_chunks):
    """Depth-ordered tile lists: returns (offsets [n_tiles+1] int64, ids [n_isects] int32).

    Tile t holds ids[offsets[t]:offsets[t+1]], sorted front to back by camera z (ties by Gaussian index),
    like gsplat's sort of (tile, depth) keys. The visible Gaussians are radix-sorted by depth once, their tile
    rectangles gathered into that order (the only random reads) and cut into n_chunks consecutive runs; each run
    counts its tiles in parallel, a prefix sum over (tile, run) gives every run its slots, and each run fills them
    in parallel, so every list stays in depth order.
    """
    n = radii.shape[0]
    vis = np.empty(n, dtype=np.int32)
    m = 0
    for i in range(n):
        if radii[i] > 0:
            vis[m] = i
            m += 1
    vis = vis[:m]
    depth = np.empty(n, dtype=np.float32)
    for i in range(m):
        depth[vis[i]] = rec[vis[i], REC_Z]
    order = _radix_argsort_f32(depth.view(np.uint32), vis)
    n_tiles = tiles_x * tiles_y
    srect = np.empty((m, 4), dtype=np.int32)     # rects in depth order: one random gather, then linear passes
    for c in prange(n_chunks):
        for i in range(c * m // n_chunks, (c + 1) * m // n_chunks):
            g = order[i]
            srect[i, 0], srect[i, 1], srect[i, 2], srect[i, 3] = rects[g, 0], rects[g, 1], rects[g, 2], rects[g, 3]
    counts = np.zeros((n_chunks, n_tiles), dtype=np.int64)
    for c in prange(n_chunks):
        for i in range(c * m // n_chunks, (c + 1) * m // n_chunks):
            x0, x1, y0, y1 = srect[i, 0], srect[i, 1], srect[i, 2], srect[i, 3]
            for ty in range(y0, y1):
                for tx in range(x0, x1):
                    counts[c, ty * tiles_x + tx] += 1
    offsets = np.zeros(n_tiles + 1, dtype=np.int64)
    for t in range(n_tiles):  # counts become each run's first slot in each tile
        acc = offsets[t]
        for c in range(n_chunks):
            k = counts[c, t]
            counts[c, t] = acc
            acc += k
        offsets[t + 1] = acc
    ids = np.empty(offsets[n_tiles], dtype=np.int32)
    for c in prange(n_chunks):
        for i in range(c * m // n_chunks, (c + 1) * m // n_chunks):
            g = order[i]
            x0, x1, y0, y1 = srect[i, 0], srect[i, 1], srect[i, 2], srect[i, 3]
            for ty in range(y0, y1):
                for tx in range(x0, x1):
                    t = ty * tiles_x + tx
                    ids[counts[c, t]] = g
                    counts[c, t] += 1
    return offsets, ids


@njit(inline="always", **_JIT)
def _quat_scale_bwd(quat, scale, vm, d_sc, g_quat, g_scale, scratch):
    """Push d loss / d Sigma_c (symmetric 3x3 d_sc) through Sigma_c = A A^T, A = Rw Rq S, into the raw
    quaternion (through its normalisation) and the scales; accumulates into g_quat [4] and g_scale [3].
    scratch: [3,3,3] float32 work space."""
    qn = math.sqrt(quat[0] * quat[0] + quat[1] * quat[1] + quat[2] * quat[2] + quat[3] * quat[3])
    inv = _F(1.0) / qn
    w, x, y, z = quat[0] * inv, quat[1] * inv, quat[2] * inv, quat[3] * inv
    r = _rotmat(w, x, y, z)
    a, d_a, g = scratch[0], scratch[1], scratch[2].reshape(9)
    for i in range(3):
        for j in range(3):
            a[i, j] = (vm[i, 0] * r[j] + vm[i, 1] * r[3 + j] + vm[i, 2] * r[6 + j]) * scale[j]
    # dA = 2 dSigma_c A
    for i in range(3):
        for j in range(3):
            d_a[i, j] = _F(2.0) * (d_sc[i, 0] * a[0, j] + d_sc[i, 1] * a[1, j] + d_sc[i, 2] * a[2, j])
    # g: d loss / d Rq, row-major
    for i in range(3):
        for j in range(3):
            d_m = vm[0, i] * d_a[0, j] + vm[1, i] * d_a[1, j] + vm[2, i] * d_a[2, j]  # dM = Rw^T dA
            g_scale[j] += d_m * r[3 * i + j]
            g[3 * i + j] = d_m * scale[j]
    two = _F(2.0)
    dw = two * (-z * g[1] + y * g[2] + z * g[3] - x * g[5] - y * g[6] + x * g[7])
    dx = two * (y * g[1] + z * g[2] + y * g[3] - two * x * g[4] - w * g[5] + z * g[6] + w * g[7] - two * x * g[8])
    dy = two * (-two * y * g[0] + x * g[1] + w * g[2] + x * g[3] + z * g[5] - w * g[6] + z * g[7] - two * y * g[8])
    dz = two * (-two * z * g[0] - w * g[1] + x * g[2] + w * g[3] - two * z * g[4] + y * g[5] + x * g[6] + y * g[7])
    dot = w * dw + x * dx + y * dy + z * dz
    g_quat[0] += (dw - w * dot) * inv
    g_quat[1] += (dx - x * dot) * inv
    g_quat[2] += (dy - y * dot) * inv
    g_quat[3] += (dz - z * dot) * inv


@njit(parallel=True, **_JIT)
def project_bwd(means, quats, scales, vm, K, width, height, radii, v_rec, v_z, g_means, g_quats, g_scales, g_op):
    """Backward of `project_fwd` for one camera (gsplat's `fully_fused_projection_bwd` maths).

    v_rec [N,6]: d loss / d (u, v, conic a, b, c, opacity); v_z [N]: d loss / d camera z (the depth channel).
    Accumulates (+=) into g_means [N,3], g_quats [N,4], g_scales [N,3], g_op [N]; culled Gaussians get nothing.
    """
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    w, h = _F(width), _F(height)
    tan_fovx, tan_fovy = _F(0.5) * w / fx, _F(0.5) * h / fy
    lxp, lxn = (w - cx) / fx + _FOVC * tan_fovx, cx / fx + _FOVC * tan_fovx
    lyp, lyn = (h - cy) / fy + _FOVC * tan_fovy, cy / fy + _FOVC * tan_fovy
    n_all = means.shape[0]
    for chunk in prange(_N_CHUNKS):  # per-chunk scratch: no allocation per Gaussian
        scratch = np.empty((4, 3, 3), dtype=np.float32)
        for n in range(chunk * n_all // _N_CHUNKS, (chunk + 1) * n_all // _N_CHUNKS):
            if radii[n] == 0:
                continue
            m = means[n]
            x = vm[0, 0] * m[0] + vm[0, 1] * m[1] + vm[0, 2] * m[2] + vm[0, 3]
            y = vm[1, 0] * m[0] + vm[1, 1] * m[1] + vm[1, 2] * m[2] + vm[1, 3]
            z = vm[2, 0] * m[0] + vm[2, 1] * m[1] + vm[2, 2] * m[2] + vm[2, 3]
            s00, s01, s02, s11, s12, s22 = _covar_cam(quats[n], scales[n], vm, scratch[0])
            rz = _F(1.0) / z
            rz2 = rz * rz
            xr, yr = x * rz, y * rz
            tx = z * min(lxp, max(-lxn, xr))
            ty = z * min(lyp, max(-lyn, yr))
            j00, j02 = fx * rz, -fx * tx * rz2
            j11, j12 = fy * rz, -fy * ty * rz2
            ca = j00 * (j00 * s00 + j02 * s02) + j02 * (j00 * s02 + j02 * s22) + _EPS2D
            cb = j11 * (j00 * s01 + j02 * s12) + j12 * (j00 * s02 + j02 * s22)
            cc = j11 * (j11 * s11 + j12 * s12) + j12 * (j11 * s12 + j12 * s22) + _EPS2D
            inv_det = _F(1.0) / (ca * cc - cb * cb)
            a, b, c = cc * inv_det, -cb * inv_det, ca * inv_det
            vr = v_rec[n]
            g_op[n] += vr[5]
            # conic = cov^-1: d cov = -C G C with G = [[ga, gb/2], [gb/2, gc]] (b appears twice in C)
            ga, gb, gc = vr[2], _F(0.5) * vr[3], vr[4]
            cg00, cg01, cg10, cg11 = a * ga + b * gb, a * gb + b * gc, b * ga + c * gb, b * gb + c * gc
            g00 = -(cg00 * a + cg01 * b)
            g01 = -(cg00 * b + cg01 * c)
            g11 = -(cg10 * b + cg11 * c)
            # cov = J Sigma_c J^T: dJ = 2 G J Sigma_c, dSigma_c = J^T G J
            js0 = (j00 * s00 + j02 * s02, j00 * s01 + j02 * s12, j00 * s02 + j02 * s22)
            js1 = (j11 * s01 + j12 * s02, j11 * s11 + j12 * s12, j11 * s12 + j12 * s22)
            dj00 = _F(2.0) * (g00 * js0[0] + g01 * js1[0])
            dj02 = _F(2.0) * (g00 * js0[2] + g01 * js1[2])
            dj11 = _F(2.0) * (g01 * js0[1] + g11 * js1[1])
            dj12 = _F(2.0) * (g01 * js0[2] + g11 * js1[2])
            gj0 = (g00 * j00, g01 * j11, g00 * j02 + g01 * j12)  # rows of G J (2x3)
            gj1 = (g01 * j00, g11 * j11, g01 * j02 + g11 * j12)
            jt = ((j00, _F(0.0)), (_F(0.0), j11), (j02, j12))  # J^T rows
            d_sc = scratch[3]
            for i in range(3):
                for k in range(3):
                    d_sc[i, k] = jt[i][0] * gj0[k] + jt[i][1] * gj1[k]
            _quat_scale_bwd(quats[n], scales[n], vm, d_sc, g_quats[n], g_scales[n], scratch[:3])
            # mean2d, the Jacobian and the depth channel -> camera-space mean
            rz3 = rz2 * rz
            gx = fx * rz * vr[0]
            gy = fy * rz * vr[1]
            gz = -fx * x * rz2 * vr[0] - fy * y * rz2 * vr[1] + v_z[n] - fx * rz2 * dj00 - fy * rz2 * dj11
            if xr <= lxp and xr >= -lxn:
                gx += -fx * rz2 * dj02
                gz += _F(2.0) * fx * tx * rz3 * dj02
            else:
                gz += fx * tx * rz3 * dj02
            if yr <= lyp and yr >= -lyn:
                gy += -fy * rz2 * dj12
                gz += _F(2.0) * fy * ty * rz3 * dj12
            else:
                gz += fy * ty * rz3 * dj12
            for i in range(3):
                g_means[n, i] += vm[0, i] * gx + vm[1, i] * gy + vm[2, i] * gz
