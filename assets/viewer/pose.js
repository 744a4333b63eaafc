// Posing of a vasa3d avatar in the browser: the same maths as vasa3d/avatar/pose.py (GaussianAvatars triangle
// frames with the in-plane stretch, rigid jaw and eyeballs, the head turned about the neck pivot by each
// Gaussian's skin weight), driven by the per-frame data of a viewer file (vasa3d/avatar/web.py).
// Plain ES module without dependencies, so that node can test it against the Python posing.
// Units: metres, head frame at rest; quaternions wxyz (as in vasa3d) unless a name says xyzw.

export const MAGIC = "VASA3DV1";
export const Binding = { FACE: 0, FACE_RIGID: 1, FACE_EDGE: 2, SKULL: 3, JAW: 4, EYE_R: 5, EYE_L: 6, BODY: 7 };
const PART_FOR_BINDING = { 4: 1, 5: 2, 6: 3 };   // JAW, EYE_R, EYE_L -> rows of the part motions

/** Parse a viewer file (ArrayBuffer) into {header, arrays: {name: typed array (flat)}}. Throws on a wrong file. */
export function parseViewerFile(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic !== MAGIC) throw new Error("not a vasa3d viewer file");
  const view = new DataView(buffer);
  const n = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + n)));
  const base = 12 + n;
  const types = { f4: Float32Array, i4: Int32Array, i1: Int8Array };
  const arrays = {};
  for (const [name, spec] of Object.entries(header.arrays)) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    arrays[name] = new types[spec.dtype](buffer, base + spec.offset, count);
  }
  return { header, arrays };
}

/** wxyz quaternion of a rotation matrix given by its columns (c0, c1, c2), Shepperd's method; into out[o..o+3]. */
function quatFromColumns(m00, m10, m20, m01, m11, m21, m02, m12, m22, out, o) {
  const tr = m00 + m11 + m22;
  let w, x, y, z;
  if (tr >= m00 && tr >= m11 && tr >= m22) {
    const s = Math.sqrt(1 + tr) * 2;
    w = 0.25 * s; x = (m21 - m12) / s; y = (m02 - m20) / s; z = (m10 - m01) / s;
  } else if (m00 >= m11 && m00 >= m22) {
    const s = Math.sqrt(1 + m00 - m11 - m22) * 2;
    w = (m21 - m12) / s; x = 0.25 * s; y = (m01 + m10) / s; z = (m02 + m20) / s;
  } else if (m11 >= m22) {
    const s = Math.sqrt(1 + m11 - m00 - m22) * 2;
    w = (m02 - m20) / s; x = (m01 + m10) / s; y = 0.25 * s; z = (m12 + m21) / s;
  } else {
    const s = Math.sqrt(1 + m22 - m00 - m11) * 2;
    w = (m10 - m01) / s; x = (m02 + m20) / s; y = (m12 + m21) / s; z = 0.25 * s;
  }
  const inv = (w < 0 ? -1 : 1) / Math.hypot(w, x, y, z);
  out[o] = w * inv; out[o + 1] = x * inv; out[o + 2] = y * inv; out[o + 3] = z * inv;
}

/** a * b (wxyz) into out[o..o+3]; a and b given as components. */
function qmul(aw, ax, ay, az, bw, bx, by, bz, out, o) {
  out[o] = aw * bw - ax * bx - ay * by - az * bz;
  out[o + 1] = aw * bx + ax * bw + ay * bz - az * by;
  out[o + 2] = aw * by - ax * bz + ay * bw + az * bx;
  out[o + 3] = aw * bz + ax * by - ay * bx + az * bw;
}

/**
 * Poses the avatar of a parsed viewer file, frame by frame.
 * poser.pose(t, out, {turnHead, indices}) writes means [N*3], quatsWxyz [N*4], scales [N*3], opacities [N] of frame
 * t into out (Float32Arrays made by poser.makeOutput()). turnHead false leaves the Gaussians of skin 1 unturned
 * (the viewer turns them as one object: poser.headTransform(t)); indices restricts the work to those Gaussians.
 */
export class AvatarPoser {
  constructor(file) {
    const { header, arrays } = file;
    this.header = header;
    this.a = arrays;
    this.N = header.num_gaussians;
    this.T = header.num_frames;
    this.F = arrays.triangles.length / 3;
    this.V = header.arrays.verts.shape[1];
    this.tables = new Float32Array(this.F * 32);   // per triangle: corners 9, R 9 (columns), k, q_plain 4, q_stretch 4, axes 3, k_ref
    this.tableFrame = -1;
    const partQuats = new Float32Array(this.T * 16);
    const R = arrays.part_R;
    for (let t = 0; t < this.T; t++) {
      for (let p = 0; p < 4; p++) {
        const m = (t * 4 + p) * 9;   // row-major 3x3
        quatFromColumns(R[m], R[m + 3], R[m + 6], R[m + 1], R[m + 4], R[m + 7], R[m + 2], R[m + 5], R[m + 8],
                        partQuats, (t * 4 + p) * 4);
      }
    }
    this.partQuats = partQuats;
    // the Gaussians whose placement changes between frames when the head is turned as one object
    const moving = [];
    const { binding, skin } = arrays;
    for (let i = 0; i < this.N; i++) {
      const b = binding[i];
      if ((b !== Binding.SKULL && b !== Binding.BODY) || (skin[i] > 0 && skin[i] < 1)) moving.push(i);
    }
    this.moving = Int32Array.from(moving);
    const head = [];
    for (let i = 0; i < this.N; i++) if (skin[i] >= 1) head.push(i);
    this.headIndices = Int32Array.from(head);
  }

  makeOutput() {
    return { means: new Float32Array(this.N * 3), quatsWxyz: new Float32Array(this.N * 4),
             scales: new Float32Array(this.N * 3), opacities: new Float32Array(this.N) };
  }

  /** Fill the triangle tables of frame t (the unturned, deformed face mesh). */
  _tables(t) {
    if (this.tableFrame === t) return;
    const { triangles, verts, photo_edges_inv: Pinv, k_ref: kRef } = this.a;
    const [lo, hi] = this.header.stretch_clip;
    const iso = this.header.isotropic_dev;
    const tab = this.tables, vb = t * this.V * 3;
    for (let f = 0; f < this.F; f++) {
      const o = f * 32;
      const i0 = vb + triangles[3 * f] * 3, i1 = vb + triangles[3 * f + 1] * 3, i2 = vb + triangles[3 * f + 2] * 3;
      const x0 = verts[i0], y0 = verts[i0 + 1], z0 = verts[i0 + 2];
      const x1 = verts[i1], y1 = verts[i1 + 1], z1 = verts[i1 + 2];
      const x2 = verts[i2], y2 = verts[i2 + 1], z2 = verts[i2 + 2];
      tab[o] = x0; tab[o + 1] = y0; tab[o + 2] = z0; tab[o + 3] = x1; tab[o + 4] = y1; tab[o + 5] = z1;
      tab[o + 6] = x2; tab[o + 7] = y2; tab[o + 8] = z2;
      const ax = x1 - x0, ay = y1 - y0, az = z1 - z0, bx = x2 - x0, by = y2 - y0, bz = z2 - z0;
      const la = Math.hypot(ax, ay, az), lb = Math.hypot(bx, by, bz), lc = Math.hypot(bx - ax, by - ay, bz - az);
      const k = (la + lb + lc) / 3;
      let nx = ay * bz - az * by, ny = az * bx - ax * bz, nz = ax * by - ay * bx;
      const nl = Math.max(Math.hypot(nx, ny, nz), 1e-12);
      nx /= nl; ny /= nl; nz /= nl;
      const al = Math.max(la, 1e-12);
      const e1x = ax / al, e1y = ay / al, e1z = az / al;
      const e2x = ny * e1z - nz * e1y, e2y = nz * e1x - nx * e1z, e2z = nx * e1y - ny * e1x;
      tab[o + 9] = e1x; tab[o + 10] = e1y; tab[o + 11] = e1z;
      tab[o + 12] = e2x; tab[o + 13] = e2y; tab[o + 14] = e2z;
      tab[o + 15] = nx; tab[o + 16] = ny; tab[o + 17] = nz;
      tab[o + 18] = k;
      quatFromColumns(e1x, e1y, e1z, e2x, e2y, e2z, nx, ny, nz, tab, o + 19);
      // in-plane stretch from the photo mesh: F = E @ photo_edges_inv, E[r][c] = axis_r . edge_c
      const E00 = e1x * ax + e1y * ay + e1z * az, E01 = e1x * bx + e1y * by + e1z * bz;
      const E10 = e2x * ax + e2y * ay + e2z * az, E11 = e2x * bx + e2y * by + e2z * bz;
      const p = f * 4;
      const F00 = E00 * Pinv[p] + E01 * Pinv[p + 2], F01 = E00 * Pinv[p + 1] + E01 * Pinv[p + 3];
      const F10 = E10 * Pinv[p] + E11 * Pinv[p + 2], F11 = E10 * Pinv[p + 1] + E11 * Pinv[p + 3];
      const a = F00 * F00 + F01 * F01, b = F00 * F10 + F01 * F11, c = F10 * F10 + F11 * F11;
      const hd = 0.5 * (a - c);
      const dev = Math.sqrt(Math.max(hd * hd + b * b, iso * iso));
      const mean = 0.5 * (a + c);
      const clamp = (v) => Math.min(Math.max(v, lo * lo), hi * hi);
      const s1 = Math.sqrt(clamp(mean + dev)), s2 = Math.sqrt(clamp(mean - dev));
      const theta = dev <= iso ? 0 : 0.5 * Math.atan2(2 * b, a - c);
      const ch = Math.cos(0.5 * theta), sh = Math.sin(0.5 * theta);
      qmul(tab[o + 19], tab[o + 20], tab[o + 21], tab[o + 22], ch, 0, 0, sh, tab, o + 23);
      const kr = kRef[f];
      tab[o + 27] = s1 * kr; tab[o + 28] = s2 * kr; tab[o + 29] = Math.sqrt(s1 * s2) * kr; tab[o + 30] = kr;
    }
    this.tableFrame = t;
  }

  /** {quaternionXyzw [4], position [3]} of the head's rigid motion at frame t: p -> R (p - pivot) + pivot + t. */
  headTransform(t) {
    const q = this.partQuats.subarray(t * 16, t * 16 + 4);
    const R = this.a.part_R, m = t * 36;
    const c = this.a.part_centres, g = this.a.part_target;
    const pos = [0, 1, 2].map((r) => g[t * 12 + r] - (R[m + 3 * r] * c[0] + R[m + 3 * r + 1] * c[1] + R[m + 3 * r + 2] * c[2]));
    return { quaternionXyzw: [q[1], q[2], q[3], q[0]], position: pos };
  }

  pose(t, out, { turnHead = true, indices = null } = {}) {
    t = Math.min(Math.max(t | 0, 0), this.T - 1);
    this._tables(t);
    const a = this.a, tab = this.tables, maxOp = this.header.max_opacity;
    const { binding, parent, bary, local_pos: lp, local_quat: lq, local_scale: ls, opacities, skin, fade } = a;
    const { means, quatsWxyz: quats, scales, opacities: opOut } = out;
    const R = a.part_R, G = a.part_target, C = a.part_centres, PQ = this.partQuats;
    const fadeR = a.fades[2 * t], fadeL = a.fades[2 * t + 1];
    const rv = a.head_rotvec, tr = a.head_translation, pv = a.neck_pivot;
    const n = indices ? indices.length : this.N;
    for (let j = 0; j < n; j++) {
      const i = indices ? indices[j] : j;
      const b = binding[i], i3 = 3 * i, i4 = 4 * i;
      let mx, my, mz;
      if (b <= Binding.FACE_EDGE) {
        const o = parent[i] * 32;
        const k = tab[o + 18];
        const unit = b === Binding.FACE ? k : (b === Binding.FACE_EDGE ? tab[o + 30] : k);
        const u0 = bary[i3], u1 = bary[i3 + 1], u2 = bary[i3 + 2];
        const px = lp[i3] * unit, py = lp[i3 + 1] * unit, pz = lp[i3 + 2] * unit;
        mx = u0 * tab[o] + u1 * tab[o + 3] + u2 * tab[o + 6] + tab[o + 9] * px + tab[o + 12] * py + tab[o + 15] * pz;
        my = u0 * tab[o + 1] + u1 * tab[o + 4] + u2 * tab[o + 7] + tab[o + 10] * px + tab[o + 13] * py + tab[o + 16] * pz;
        mz = u0 * tab[o + 2] + u1 * tab[o + 5] + u2 * tab[o + 8] + tab[o + 11] * px + tab[o + 14] * py + tab[o + 17] * pz;
        const q = b === Binding.FACE ? o + 23 : o + 19;
        qmul(tab[q], tab[q + 1], tab[q + 2], tab[q + 3], lq[i4], lq[i4 + 1], lq[i4 + 2], lq[i4 + 3], quats, i4);
        if (b === Binding.FACE) {
          scales[i3] = ls[i3] * tab[o + 27]; scales[i3 + 1] = ls[i3 + 1] * tab[o + 28];
          scales[i3 + 2] = ls[i3 + 2] * tab[o + 29];
        } else {
          scales[i3] = ls[i3] * unit; scales[i3 + 1] = ls[i3 + 1] * unit; scales[i3 + 2] = ls[i3 + 2] * unit;
        }
      } else {
        const part = PART_FOR_BINDING[b];
        const x = lp[i3], y = lp[i3 + 1], z = lp[i3 + 2];
        if (part !== undefined) {
          const m = (t * 4 + part) * 9, c = part * 3, g = (t * 4 + part) * 3, q = (t * 4 + part) * 4;
          const dx = x - C[c], dy = y - C[c + 1], dz = z - C[c + 2];
          mx = R[m] * dx + R[m + 1] * dy + R[m + 2] * dz + G[g];
          my = R[m + 3] * dx + R[m + 4] * dy + R[m + 5] * dz + G[g + 1];
          mz = R[m + 6] * dx + R[m + 7] * dy + R[m + 8] * dz + G[g + 2];
          qmul(PQ[q], PQ[q + 1], PQ[q + 2], PQ[q + 3], lq[i4], lq[i4 + 1], lq[i4 + 2], lq[i4 + 3], quats, i4);
        } else {
          mx = x; my = y; mz = z;
          quats[i4] = lq[i4]; quats[i4 + 1] = lq[i4 + 1]; quats[i4 + 2] = lq[i4 + 2]; quats[i4 + 3] = lq[i4 + 3];
        }
        scales[i3] = ls[i3]; scales[i3 + 1] = ls[i3 + 1]; scales[i3 + 2] = ls[i3 + 2];
      }
      const s = skin[i];
      if (s > 0 && (s < 1 || turnHead)) {      // turn about the neck pivot by s of the head's rotation (a slerp)
        const rx = rv[3 * t] * s, ry = rv[3 * t + 1] * s, rz = rv[3 * t + 2] * s;
        const ang = Math.hypot(rx, ry, rz);
        const half = 0.5 * ang, sc = ang > 1e-12 ? Math.sin(half) / ang : 0.5;
        const qw = Math.cos(half), qx = rx * sc, qy = ry * sc, qz = rz * sc;
        const vx = mx - pv[0], vy = my - pv[1], vz = mz - pv[2];
        const tx = 2 * (qy * vz - qz * vy), ty = 2 * (qz * vx - qx * vz), tz = 2 * (qx * vy - qy * vx);
        mx = vx + qw * tx + (qy * tz - qz * ty) + pv[0] + s * tr[3 * t];
        my = vy + qw * ty + (qz * tx - qx * tz) + pv[1] + s * tr[3 * t + 1];
        mz = vz + qw * tz + (qx * ty - qy * tx) + pv[2] + s * tr[3 * t + 2];
        qmul(qw, qx, qy, qz, quats[i4], quats[i4 + 1], quats[i4 + 2], quats[i4 + 3], quats, i4);
      }
      means[i3] = mx; means[i3 + 1] = my; means[i3 + 2] = mz;
      const f = fade[i];
      opOut[i] = Math.min(opacities[i], maxOp) * (f === 1 ? fadeR : f === 2 ? fadeL : 1);
    }
    return out;
  }
}
