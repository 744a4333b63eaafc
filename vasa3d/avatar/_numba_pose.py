"""Posing for inference on the CPU: every Gaussian placed in one numba pass (no autograd, no temporaries).

`vasa3d.avatar.pose.pose_tensors` (PyTorch) is the reference and the differentiable path; this module does the same
maths for rendering on the CPU. The per-frame quantities that are per triangle or per part (the triangle tables of
the deformed face mesh, `pose._triangle_tables`; the parts' rigid motions, `kinematics.part_motions`) still come from
that PyTorch code (about 900 triangles and 4 parts: cheap); what was per Gaussian (a gather of table columns,
products and sums over [C, n] slices, transposed copies into [N, 10] rows and then into contiguous columns: 5-6 ms
a frame for 74k Gaussians on one thread) is one loop here, writing the rasterizer's contiguous arrays directly.

`plan(layout)` turns the binding layout into per-Gaussian codes once per avatar; `place(...)` runs per frame.
Per Gaussian (sorted order, PACKED columns of `pose`), with A the 3 x 6 table block, w = [bary, local_pos]:
- FACE: mean = A @ w, quat = table quat (or right(local quat) @ table quat), scale = local scale * stretch axes;
- FACE_RIGID / FACE_EDGE: unit = k_ref (edge) or k; mean = A @ [bary, local_pos * unit / k],
  quat = right(local quat) @ table quat, scale = local scale * unit;
- JAW / EYE: mean = R_p (local_pos - c_p) + t_p, quat = L_p local quat; SKULL / BODY: unchanged;
- then, by skin class: "head" Gaussians turned with the head (part 0), "neck" ones skinned by a slerp of the
  head's rotation (`kinematics.neck_skin`), "still" ones left. The reference places the "head" class's face
  Gaussians on the mesh already turned with the head instead; both give the same Gaussians (a rotated triangle's
  frame is the rotated frame; the quaternion may come out negated, the same rotation), and turning each Gaussian
  here costs less than a second set of triangle tables.
The constants are literals (numba's cache is keyed on this file only).
"""

from __future__ import annotations

import numpy as np
from numba import njit

OP_FACE, OP_FACE_RIGID, OP_PART, OP_STILL = 0, 1, 2, 3
POST_NONE, POST_HEAD, POST_NECK = 0, 1, 2


def plan(layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-Gaussian codes of a `pose.BindingLayout` (sorted order): op uint8 [N], arg int32 [N] (the
    `kinematics.PART_*` row for parts), post uint8 [N]."""
    from vasa3d.avatar.types import Binding
    from vasa3d.head import kinematics as kin

    n = int(layout.order.shape[0])
    op = np.full(n, OP_STILL, np.uint8)
    arg = np.zeros(n, np.int32)
    post = np.zeros(n, np.uint8)
    parts = {Binding.JAW: kin.PART_JAW, Binding.EYE_R: kin.PART_EYE_R, Binding.EYE_L: kin.PART_EYE_L}
    for start, end, kind in layout.skin_runs:
        for binding, s, e in layout.runs:
            if not start <= s < end:
                continue
            if binding in (Binding.FACE, Binding.FACE_RIGID):
                op[s:e] = OP_FACE if binding == Binding.FACE else OP_FACE_RIGID
            elif binding in parts:
                op[s:e], arg[s:e] = OP_PART, parts[binding]
            post[s:e] = {"head": POST_HEAD, "neck": POST_NECK}.get(kind, POST_NONE)
    return op, arg, post


@njit(cache=True, error_model="numpy", nogil=True)
def place(data, op, arg, post, parent, edge, tab_face, tab_rigid, R, centre, target, L, neck_rotvec,
          neck_translation, neck_pivot, face_quats_identity, means, quats, scales):
    """Fill means [N, 3], quats [N, 4] (wxyz), scales [N, 3] (float32, sorted order) for one frame.

    data: float32 [30, N] PACKED columns; op, arg, post, from `plan`; parent: int64 [N] triangles; edge: bool [N];
    tab_face: float32 [25, F], tab_rigid: float32 [24, F]: `pose._triangle_tables` of the deformed mesh before the
    head turns; R [4, 3, 3], centre [4, 3], target [4, 3], L [4, 4, 4]: `PartMotions` (float32);
    neck_rotvec [3] rad, neck_translation [3] m, neck_pivot [3] m.
    """
    n_total = data.shape[1]
    for n in range(n_total):
        o = op[n]
        a = arg[n]
        mx = data[3, n]
        my = data[4, n]
        mz = data[5, n]
        qw = data[6, n]
        qx = data[7, n]
        qy = data[8, n]
        qz = data[9, n]
        sx = data[10, n]
        sy = data[11, n]
        sz = data[12, n]
        if o == 0 or o == 1:
            f = parent[n]
            if o == 0:                          # FACE: the triangle's stretch axes scale it
                tab = tab_face
                ratio = np.float32(1.0)
                fx, fy, fz = tab_face[22, f], tab_face[23, f], tab_face[24, f]
            else:                               # FACE_RIGID / FACE_EDGE: one length unit, k or k_ref
                tab = tab_rigid
                k = tab_rigid[22, f]
                unit = tab_rigid[23, f] if edge[n] else k
                ratio = unit / k
                fx = fy = fz = unit
            w3 = mx * ratio                     # mx, my, mz still hold the local position
            w4 = my * ratio
            w5 = mz * ratio
            tq0, tq1, tq2, tq3 = tab[18, f], tab[19, f], tab[20, f], tab[21, f]
            sx = sx * fx
            sy = sy * fy
            sz = sz * fz
            w0 = data[0, n]
            w1 = data[1, n]
            w2 = data[2, n]
            mx = (tab[0, f] * w0 + tab[1, f] * w1 + tab[2, f] * w2 + tab[3, f] * w3
                  + tab[4, f] * w4 + tab[5, f] * w5)
            my = (tab[6, f] * w0 + tab[7, f] * w1 + tab[8, f] * w2 + tab[9, f] * w3
                  + tab[10, f] * w4 + tab[11, f] * w5)
            mz = (tab[12, f] * w0 + tab[13, f] * w1 + tab[14, f] * w2 + tab[15, f] * w3
                  + tab[16, f] * w4 + tab[17, f] * w5)
            if o == 0 and face_quats_identity:
                qw, qx, qy, qz = tq0, tq1, tq2, tq3
            else:                               # right(local quat) @ table quat (= table quat * local quat)
                qw = data[14, n] * tq0 + data[15, n] * tq1 + data[16, n] * tq2 + data[17, n] * tq3
                qx = data[18, n] * tq0 + data[19, n] * tq1 + data[20, n] * tq2 + data[21, n] * tq3
                qy = data[22, n] * tq0 + data[23, n] * tq1 + data[24, n] * tq2 + data[25, n] * tq3
                qz = data[26, n] * tq0 + data[27, n] * tq1 + data[28, n] * tq2 + data[29, n] * tq3
        elif o == 2:
            mx, my, mz, qw, qx, qy, qz = _rigid(R, centre, target, L, a, mx, my, mz, qw, qx, qy, qz)
        p = post[n]
        if p == 1:
            mx, my, mz, qw, qx, qy, qz = _rigid(R, centre, target, L, 0, mx, my, mz, qw, qx, qy, qz)
        elif p == 2:
            s = data[13, n]
            rx = neck_rotvec[0] * s
            ry = neck_rotvec[1] * s
            rz = neck_rotvec[2] * s
            sq = rx * rx + ry * ry + rz * rz
            if sq < np.float32(1e-12):          # the series `rotation._half_angle_terms` uses near 0
                ch = np.float32(1.0) - sq / np.float32(8.0)
                sh = np.float32(0.5) - sq / np.float32(48.0)
            else:
                th = np.sqrt(sq)
                ch = np.cos(np.float32(0.5) * th)
                sh = np.sin(np.float32(0.5) * th) / th
            uw, ux, uy, uz = ch, rx * sh, ry * sh, rz * sh
            vx = mx - neck_pivot[0]
            vy = my - neck_pivot[1]
            vz = mz - neck_pivot[2]
            tx = np.float32(2.0) * (uy * vz - uz * vy)       # v + w t + u x t, t = 2 u x v
            ty = np.float32(2.0) * (uz * vx - ux * vz)
            tz = np.float32(2.0) * (ux * vy - uy * vx)
            mx = vx + uw * tx + (uy * tz - uz * ty) + neck_pivot[0] + neck_translation[0] * s
            my = vy + uw * ty + (uz * tx - ux * tz) + neck_pivot[1] + neck_translation[1] * s
            mz = vz + uw * tz + (ux * ty - uy * tx) + neck_pivot[2] + neck_translation[2] * s
            qw, qx, qy, qz = (uw * qw - ux * qx - uy * qy - uz * qz, uw * qx + ux * qw + uy * qz - uz * qy,
                              uw * qy - ux * qz + uy * qw + uz * qx, uw * qz + ux * qy - uy * qx + uz * qw)
        means[n, 0] = mx
        means[n, 1] = my
        means[n, 2] = mz
        quats[n, 0] = qw
        quats[n, 1] = qx
        quats[n, 2] = qy
        quats[n, 3] = qz
        scales[n, 0] = sx
        scales[n, 1] = sy
        scales[n, 2] = sz


@njit(cache=True, error_model="numpy", nogil=True, inline="always")
def _rigid(R, centre, target, L, p, mx, my, mz, qw, qx, qy, qz):
    """Point and quaternion moved by part `p`: R (point - centre) + target, L @ quat."""
    vx = mx - centre[p, 0]
    vy = my - centre[p, 1]
    vz = mz - centre[p, 2]
    ox = R[p, 0, 0] * vx + R[p, 0, 1] * vy + R[p, 0, 2] * vz + target[p, 0]
    oy = R[p, 1, 0] * vx + R[p, 1, 1] * vy + R[p, 1, 2] * vz + target[p, 1]
    oz = R[p, 2, 0] * vx + R[p, 2, 1] * vy + R[p, 2, 2] * vz + target[p, 2]
    ow = L[p, 0, 0] * qw + L[p, 0, 1] * qx + L[p, 0, 2] * qy + L[p, 0, 3] * qz
    ox2 = L[p, 1, 0] * qw + L[p, 1, 1] * qx + L[p, 1, 2] * qy + L[p, 1, 3] * qz
    oy2 = L[p, 2, 0] * qw + L[p, 2, 1] * qx + L[p, 2, 2] * qy + L[p, 2, 3] * qz
    oz2 = L[p, 3, 0] * qw + L[p, 3, 1] * qx + L[p, 3, 2] * qy + L[p, 3, 3] * qz
    return ox, oy, oz, ow, ox2, oy2, oz2


@njit(cache=True, error_model="numpy", nogil=True)
def triangle_tables(verts, triangles, photo_edges_inv, k_ref, isotropic_dev, clip_lo, clip_hi, out_face, out_rigid):
    """`pose._triangle_tables` of the mesh `verts` float32 [V, 3] into out_face [25, F] and out_rigid [24, F].

    triangles: int64 [F, 3]; photo_edges_inv: float32 [F, 2, 2]; k_ref: float32 [F] m; isotropic_dev, clip_lo,
    clip_hi: `kinematics.ISOTROPIC_DEV` and `STRETCH_CLIP`. Per triangle, as `kinematics.face_frames`: the frame
    (edge direction, in-plane normal, normal), its mean edge length k, the in-plane stretch from the photo mesh
    (`_stretch_from_edges`), the frame's quaternion (Shepperd's method as `rotation.quat_from_matrix`: the row of
    4 q q^T picked by the largest of trace and diagonal, w >= 0), that quaternion turned about the normal onto the
    stretch axis, and A = [corners^T | k R].
    """
    eps = np.float32(1e-12)
    for f in range(triangles.shape[0]):
        i0, i1, i2 = triangles[f, 0], triangles[f, 1], triangles[f, 2]
        v0x, v0y, v0z = verts[i0, 0], verts[i0, 1], verts[i0, 2]
        ax, ay, az = verts[i1, 0] - v0x, verts[i1, 1] - v0y, verts[i1, 2] - v0z
        bx, by, bz = verts[i2, 0] - v0x, verts[i2, 1] - v0y, verts[i2, 2] - v0z
        la = np.sqrt(ax * ax + ay * ay + az * az)
        lb = np.sqrt(bx * bx + by * by + bz * bz)
        cx, cy, cz = bx - ax, by - ay, bz - az
        lc = np.sqrt(cx * cx + cy * cy + cz * cz)
        nx, ny, nz = ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx
        nn = max(np.sqrt(nx * nx + ny * ny + nz * nz), eps)
        nx, ny, nz = nx / nn, ny / nn, nz / nn
        la_ = max(la, eps)
        e1x, e1y, e1z = ax / la_, ay / la_, az / la_
        e2x, e2y, e2z = ny * e1z - nz * e1y, nz * e1x - nx * e1z, nx * e1y - ny * e1x
        k = (la + lb + lc) / np.float32(3.0)
        # edges in the in-plane axes, then F = E @ photo_edges_inv and C = F F^T
        E00, E01 = e1x * ax + e1y * ay + e1z * az, e1x * bx + e1y * by + e1z * bz
        E10, E11 = e2x * ax + e2y * ay + e2z * az, e2x * bx + e2y * by + e2z * bz
        P = photo_edges_inv[f]
        F00, F01 = E00 * P[0, 0] + E01 * P[1, 0], E00 * P[0, 1] + E01 * P[1, 1]
        F10, F11 = E10 * P[0, 0] + E11 * P[1, 0], E10 * P[0, 1] + E11 * P[1, 1]
        ca, cb, cc = F00 * F00 + F01 * F01, F00 * F10 + F01 * F11, F10 * F10 + F11 * F11
        half = np.float32(0.5) * (ca - cc)
        dev = np.sqrt(max(half * half + cb * cb, isotropic_dev * isotropic_dev))
        mean = np.float32(0.5) * (ca + cc)
        s1 = np.sqrt(min(max(mean + dev, clip_lo * clip_lo), clip_hi * clip_hi))
        s2 = np.sqrt(min(max(mean - dev, clip_lo * clip_lo), clip_hi * clip_hi))
        theta = np.float32(0.0)
        if dev > isotropic_dev:
            theta = np.float32(0.5) * np.arctan2(np.float32(2.0) * cb, ca - cc)
        # R = [e1 e2 n] (columns) -> quaternion (Shepperd)
        m00, m01, m02 = e1x, e2x, nx
        m10, m11, m12 = e1y, e2y, ny
        m20, m21, m22 = e1z, e2z, nz
        tr = m00 + m11 + m22
        best, top = 0, tr
        if m00 > top:
            best, top = 1, m00
        if m11 > top:
            best, top = 2, m11
        if m22 > top:
            best = 3
        if best == 0:
            qw, qx, qy, qz = np.float32(1.0) + tr, m21 - m12, m02 - m20, m10 - m01
        elif best == 1:
            qw, qx, qy, qz = m21 - m12, np.float32(1.0) + m00 - m11 - m22, m01 + m10, m02 + m20
        elif best == 2:
            qw, qx, qy, qz = m02 - m20, m01 + m10, np.float32(1.0) - m00 + m11 - m22, m12 + m21
        else:
            qw, qx, qy, qz = m10 - m01, m02 + m20, m12 + m21, np.float32(1.0) - m00 - m11 + m22
        if qw < 0:
            qw, qx, qy, qz = -qw, -qx, -qy, -qz
        qn = np.sqrt(qw * qw + qx * qx + qy * qy + qz * qz)
        qw, qx, qy, qz = qw / qn, qx / qn, qy / qn, qz / qn
        ch, sh = np.cos(np.float32(0.5) * theta), np.sin(np.float32(0.5) * theta)
        corners = ((v0x, v0y, v0z), (verts[i1, 0], verts[i1, 1], verts[i1, 2]),
                   (verts[i2, 0], verts[i2, 1], verts[i2, 2]))
        R = ((m00, m01, m02), (m10, m11, m12), (m20, m21, m22))
        for i in range(3):
            for j in range(3):
                out_face[6 * i + j, f] = corners[j][i]
                out_face[6 * i + 3 + j, f] = k * R[i][j]
                out_rigid[6 * i + j, f] = corners[j][i]
                out_rigid[6 * i + 3 + j, f] = k * R[i][j]
        out_face[18, f] = qw * ch - qz * sh                # q * (cos, 0, 0, sin): about the normal
        out_face[19, f] = qx * ch + qy * sh
        out_face[20, f] = qy * ch - qx * sh
        out_face[21, f] = qz * ch + qw * sh
        out_face[22, f] = s1 * k_ref[f]
        out_face[23, f] = s2 * k_ref[f]
        out_face[24, f] = np.sqrt(s1 * s2) * k_ref[f]
        out_rigid[18, f] = qw
        out_rigid[19, f] = qx
        out_rigid[20, f] = qy
        out_rigid[21, f] = qz
        out_rigid[22, f] = k
        out_rigid[23, f] = k_ref[f]


def pose_numba(t, codes, full, head_rotation, head_translation, gaze):
    """`pose.pose_tensors(t, full, head_rotation, head_translation, gaze, avatar_order=False)` for float32 CPU
    tensors without gradients, with the per-Gaussian work in `place`; `codes` = `plan(t.layout)`. Returns
    `pose.PosedGaussians` of contiguous tensors (sorted order)."""
    import torch

    from vasa3d.avatar import pose as P
    from vasa3d.head import kinematics as kin

    op, arg, post = codes
    head, lay = t.head, t.layout
    data, colors, opacities = t.sorted
    motion = kin.part_motions(head, full, head_rotation, head_translation, gaze)
    F = head.triangles.shape[0]
    tab_face, tab_rigid = np.empty((25, F), np.float32), np.empty((24, F), np.float32)
    triangle_tables(kin.deform(head, full).numpy(), head.triangles.numpy(), head.photo_edges_inv.numpy(),
                    head.k_ref.numpy(), np.float32(kin.ISOTROPIC_DEV), np.float32(kin.STRETCH_CLIP[0]),
                    np.float32(kin.STRETCH_CLIP[1]), tab_face, tab_rigid)
    n = data.shape[1]
    means, quats, scales = (np.empty((n, c), np.float32) for c in (3, 4, 3))
    c = np.ascontiguousarray
    place(data.numpy(), op, arg, post, lay.parent.numpy(), lay.edge.numpy(), tab_face, tab_rigid,
          c(motion.R.numpy()), c(motion.centre.numpy()), c(motion.target.numpy()), c(motion.L.numpy()),
          c(head_rotation.numpy()), c(head_translation.numpy()), c(head.neck_pivot.numpy()),
          bool(t.face_quats_identity), means, quats, scales)
    return P.PosedGaussians(means=torch.from_numpy(means), quats=torch.from_numpy(quats),
                            scales=torch.from_numpy(scales), opacities=P._opacities(head, lay, opacities, full),
                            colors=colors)
