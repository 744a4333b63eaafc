"""Expression rig on the face-mesh topology: linear blendshapes with ARKit names, plus the jaw as a rotation.

Each blendshape is built from a few handle displacements (lip corners, lid contours, brows, in metres in the
head frame) spread over its region by harmonic interpolation on the mesh graph (the discrete Laplace equation with
the handles fixed and every vertex farther than the region radius fixed at zero), so a shape moves only its region
and never tears. `jawOpen` is a rotation about the jaw hinge (x axis through the temporomandibular joints) weighted
per vertex, applied after the linear shapes, as in FLAME (Li et al. 2017) and GaussianAvatars (Qian et al. 2024).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vasa3d.arkit import check_names
from vasa3d.head import topology as topo

JAW_OPEN_MAX_RAD = 0.30          # default jaw rotation at jawOpen = 1 (about 17 degrees; rigs saved before per-face)
JAW_OPEN_GAP = 0.14              # inner-lip gap at jawOpen = 1, in face heights (chin to forehead): a wide-open mouth
JAW_OPEN_RANGE_RAD = (0.24, 0.40)   # the per-face jaw angle stays within about 14 to 23 degrees
JAW_HINGE_OFFSET_M = (0.0, -0.012, 0.012)   # hinge relative to the head centre (between the ears)
JAW_SHIFTS_M = {"jawLeft": (0.006, 0.0, 0.0), "jawRight": (-0.006, 0.0, 0.0), "jawForward": (0.0, 0.0, 0.005)}
"""Translation of the jaw (chin, lower lip, lower teeth, tongue) at coefficient 1; subject's left = +x."""
GAZE_SHAPES = ("eyeLookUpLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft",
               "eyeLookUpRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight")
"""Names that turn the eyeballs (see `vasa3d.avatar.pose`); they do not move the mesh."""
EYE_LOOK_MAX_RAD = 0.45   # eyeball rotation at an eyeLook* coefficient of 1 (about 26 degrees)


@dataclass
class ExpressionRig:
    """Blendshapes on V vertices.

    Attributes:
        names: tuple of K ARKit names, the shapes this rig supports (plus "jawOpen").
        deltas: float32 [K, V, 3], displacement at coefficient 1 in metres, head frame.
        jaw_weights: float32 [V] in [0, 1], how much each vertex follows the jaw rotation.
        jaw_hinge: float32 [3], a point on the hinge axis (head frame, metres); the axis is +x.
        jaw_open_rad: jaw rotation in radians at jawOpen = 1, chosen per face so the lips part by `JAW_OPEN_GAP`
            face heights whatever the distance from the hinge to the lips.
    """

    names: tuple[str, ...]
    deltas: np.ndarray
    jaw_weights: np.ndarray
    jaw_hinge: np.ndarray
    jaw_open_rad: float = JAW_OPEN_MAX_RAD

    @property
    def supported(self) -> tuple[str, ...]:
        """Every coefficient name `deform` accepts."""
        return self.names + ("jawOpen",)

    def index(self, names: tuple[str, ...] | list[str]) -> np.ndarray:
        """int [len(names)] positions of `names` in `supported`; ValueError names any unknown entry."""
        check_names(list(names), self.supported)
        return np.array([self.supported.index(n) for n in names], dtype=np.int64)

    def deform(self, rest: np.ndarray, names: tuple[str, ...] | list[str], coeffs: np.ndarray) -> np.ndarray:
        """Deform `rest` [V, 3] by `coeffs` [len(names)] (float, typically in [0, 1]); returns float32 [V, 3].

        mouthClose acts only up to jawOpen (as in ARKit captures, where it cancels the jaw's lip gap: mouthClose =
        jawOpen gives closed lips on an open jaw); alone it does nothing.

        Raises ValueError for an unknown name or mismatched lengths.
        """
        coeffs = np.asarray(coeffs, dtype=np.float32).reshape(-1)
        if len(coeffs) != len(names):
            raise ValueError(f"{len(names)} names but {len(coeffs)} coefficients")
        full = np.zeros(len(self.supported), dtype=np.float32)
        full[self.index(names)] = coeffs
        if "mouthClose" in self.names:   # ARKit: mouthClose closes the lips against an open jaw, never beyond it
            i = self.names.index("mouthClose")
            full[i] = min(full[i], max(full[-1], 0.0))
        out = rest + np.tensordot(full[:-1], self.deltas, axes=1)
        angle = full[-1] * self.jaw_open_rad
        if angle != 0.0:
            out = rotate_about_hinge(out, self.jaw_weights, self.jaw_hinge, angle)
        return out.astype(np.float32)


def rotate_about_hinge(points: np.ndarray, weights: np.ndarray, hinge: np.ndarray, angle: float) -> np.ndarray:
    """Blend each point [N, 3] between itself (weight 0) and its rotation by `angle` (rad, opening the mouth:
    the chin moves down and back) about the x axis through `hinge` (weight 1)."""
    c, s = np.cos(angle), np.sin(angle)
    R = np.array([[1, 0, 0], [0, c, -s], [0, s, c]], dtype=np.float32)
    rotated = (points - hinge) @ R.T + hinge
    return points + weights[:, None] * (rotated - points)


def harmonic_fill(adjacency, handles: dict[int, np.ndarray], region: np.ndarray) -> np.ndarray:
    """Spread handle displacements over `region` by the graph Laplace equation.

    Args:
        adjacency: scipy.sparse [V, V] 0/1 mesh adjacency.
        handles: vertex index -> displacement [3].
        region: bool [V]; vertices outside it are fixed at zero.
    Returns:
        float32 [V, 3] displacements (exactly zero outside `region`).
    """
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    V = adjacency.shape[0]
    fixed = ~region.copy()
    values = np.zeros((V, 3))
    for i, d in handles.items():
        fixed[i] = True
        values[i] = d
    free = np.flatnonzero(~fixed)
    if len(free) == 0:
        return values.astype(np.float32)
    L = sp.diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency
    L_ff = L[free][:, free].tocsc()
    rhs = -(L[free][:, np.flatnonzero(fixed)] @ values[fixed])
    values[free] = spla.spsolve(L_ff, rhs).reshape(len(free), 3)
    return values.astype(np.float32)


def close_lips(face: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """The neutral face: `face` [468, 3] with the inner lips brought together where the photo shows them apart.

    Each inner-lip pair (upper, lower contour point) meets at its midpoint; the rest of the mouth region follows
    by harmonic interpolation; corners and everything beyond 3 cm stay put. A photo with a toothy smile thus gets
    a closed-mouth neutral (the teeth it shows stay behind the lips until the jaw opens). Returns float32 [468, 3].
    """
    A = topo.vertex_adjacency(triangles, face.shape[0])
    handles: dict[int, np.ndarray] = {i: np.zeros(3) for i in topo.MOUTH_CORNERS}
    for u, lo in zip(topo.LIP_UPPER_INNER[1:-1], topo.LIP_LOWER_INNER[1:-1]):
        apart = face[u, 1] > face[lo, 1]
        meet = 0.5 * (face[u] + face[lo])
        handles[u] = meet - face[u] if apart else np.zeros(3)
        handles[lo] = meet - face[lo] if apart else np.zeros(3)
    delta = harmonic_fill(A, handles, _region(face, handles.keys(), 0.03))
    return (face + delta).astype(np.float32)


def _region(rest: np.ndarray, handle_ids, radius_m: float) -> np.ndarray:
    """bool [V]: vertices within `radius_m` (metres) of any handle vertex."""
    d = np.linalg.norm(rest[:, None, :] - rest[list(handle_ids)][None, :, :], axis=2).min(axis=1)
    return d < radius_m


def _shape(rest, adjacency, handles: dict[int, np.ndarray], radius_m: float, pinned=()) -> np.ndarray:
    """One blendshape: handles moved, `pinned` vertices held still, region = within radius of the handles."""
    all_handles = dict(handles)
    for i in pinned:
        all_handles.setdefault(i, np.zeros(3))
    return harmonic_fill(adjacency, all_handles, _region(rest, handles.keys(), radius_m))


def build_rig(rest: np.ndarray, triangles: np.ndarray, head_centre_to_mouth_scale: float = 1.0) -> ExpressionRig:
    """Build the expression rig for a face mesh.

    Args:
        rest: float32 [468, 3] face-mesh vertices at rest, metres, head frame.
        triangles: int [852, 3] face triangles.
        head_centre_to_mouth_scale: scales every handle displacement (1 = an average adult face).
    Returns:
        An `ExpressionRig` supporting the names in `vasa3d.arkit.MOTION_BLENDSHAPES`.
    """
    A = topo.vertex_adjacency(triangles, rest.shape[0])
    k = head_centre_to_mouth_scale
    jaw_w = _jaw_weights(rest, A)
    hinge = np.asarray(JAW_HINGE_OFFSET_M, dtype=np.float32)
    face_height = float(rest[topo.FOREHEAD, 1] - rest[topo.CHIN, 1])
    per_rad = _jaw_gap(rest, jaw_w, hinge, JAW_OPEN_MAX_RAD) / JAW_OPEN_MAX_RAD
    jaw_rad = float(np.clip(JAW_OPEN_GAP * face_height / max(per_rad, 1e-6), *JAW_OPEN_RANGE_RAD))
    gap = _jaw_gap(rest, jaw_w, hinge, jaw_rad)          # lip gap at jawOpen = 1, metres
    shapes: dict[str, np.ndarray] = {}
    shapes.update(_mouth_shapes(rest, A, k, gap))
    shapes.update(_eye_shapes(rest, A))
    shapes.update(_brow_shapes(rest, A, k))
    shapes.update(_more_shapes(rest, A, k, jaw_w))
    shapes.update({name: np.zeros_like(rest) for name in GAZE_SHAPES})
    names = tuple(shapes)
    deltas = np.stack([shapes[n] for n in names]).astype(np.float32)
    return ExpressionRig(names=names, deltas=deltas, jaw_weights=jaw_w, jaw_hinge=hinge, jaw_open_rad=jaw_rad)


def _jaw_weights(rest: np.ndarray, A) -> np.ndarray:
    """Per-vertex jaw weight: 1 on the lower lip and chin, 0 on the upper lip and above, smooth on the cheeks."""
    lower = set(topo.LIP_LOWER_OUTER[1:-1] + topo.LIP_LOWER_INNER[1:-1])
    upper = set(topo.LIP_UPPER_OUTER + topo.LIP_UPPER_INNER)
    y_corner = rest[list(topo.MOUTH_CORNERS), 1].mean()
    y_chin = rest[topo.CHIN, 1]
    handles: dict[int, np.ndarray] = {}
    for i in range(rest.shape[0]):
        if i in upper or rest[i, 1] > y_corner + 0.012:
            handles[i] = np.zeros(3)
        elif i in lower or rest[i, 1] < y_corner - 0.35 * (y_corner - y_chin):
            handles[i] = np.ones(3)
    w = harmonic_fill(A, handles, np.ones(rest.shape[0], dtype=bool))[:, 0]
    return np.clip(w, 0.0, 1.0).astype(np.float32)


def _jaw_gap(rest: np.ndarray, jaw_w: np.ndarray, hinge: np.ndarray, angle: float) -> float:
    """Vertical inner-lip gap (13 above 14) in metres with the jaw turned by `angle` (rad)."""
    opened = rotate_about_hinge(rest, jaw_w, hinge, angle)
    return float(opened[13, 1] - opened[14, 1])


def _side_ids(ids, side: int, rest: np.ndarray) -> list[int]:
    """Vertices of `ids` on the subject's left (side=+1, +x) or right (side=-1), centre line included."""
    return [i for i in ids if side * rest[i, 0] >= -0.002]


def _mouth_shapes(rest, A, k: float, gap: float) -> dict[str, np.ndarray]:
    """Lip shapes: close (cancels the jaw's lip gap `gap`), pucker, funnel, smile, stretch, press, lowerDown,
    upperUp, roll; handle displacements in metres scaled by `k`."""
    up, lo = topo.LIP_UPPER_OUTER + topo.LIP_UPPER_INNER, topo.LIP_LOWER_OUTER + topo.LIP_LOWER_INNER
    up_mid = [i for i in up if i not in topo.MOUTH_CORNERS]
    lo_mid = [i for i in lo if i not in topo.MOUTH_CORNERS]
    centre = rest[[13, 14]].mean(axis=0)
    lips = sorted(set(up + lo))
    R = 0.035 * k
    vec = lambda x, y, z: np.array([x, y, z], dtype=np.float64) * k  # noqa: E731
    s: dict[str, np.ndarray] = {}
    s["mouthClose"] = _shape(rest, A, {**{i: vec(0, -0.5 * gap / k, 0) for i in up_mid},
                                       **{i: vec(0, 0.5 * gap / k, 0) for i in lo_mid}}, R)
    toward = {i: np.array([-(rest[i, 0] - centre[0]) * 0.45, 0.0, 0.010 * k]) for i in lips}
    s["mouthPucker"] = _shape(rest, A, toward, R)
    funnel = {i: np.array([-(rest[i, 0] - centre[0]) * 0.3, 0.0, 0.008 * k]) for i in lips}
    for i in up_mid:
        funnel[i] = funnel[i] + vec(0, 0.003, 0)
    for i in lo_mid:
        funnel[i] = funnel[i] + vec(0, -0.004, 0)
    s["mouthFunnel"] = _shape(rest, A, funnel, R)
    for side, name in ((1, "Left"), (-1, "Right")):
        corner = [291, 308] if side > 0 else [61, 78]
        s[f"mouthSmile{name}"] = _shape(rest, A, {i: vec(side * 0.007, 0.008, -0.004) for i in corner}, R,
                                        pinned=[13, 14, 0, 17])
        s[f"mouthStretch{name}"] = _shape(rest, A, {i: vec(side * 0.008, -0.003, -0.002) for i in corner}, R,
                                          pinned=[13, 14, 0, 17])
        s[f"mouthPress{name}"] = _shape(rest, A, {**{i: vec(0, -0.0015, -0.001) for i in _side_ids(up_mid, side, rest)},
                                                  **{i: vec(0, 0.0015, -0.001) for i in _side_ids(lo_mid, side, rest)}},
                                        R, pinned=_side_ids(lips, -side, rest))
        s[f"mouthLowerDown{name}"] = _shape(rest, A, {i: vec(0, -0.006, 0.001) for i in _side_ids(lo_mid, side, rest)},
                                            R, pinned=list(up) + _side_ids(lips, -side, rest))
        s[f"mouthUpperUp{name}"] = _shape(rest, A, {i: vec(0, 0.005, 0.001) for i in _side_ids(up_mid, side, rest)},
                                          R, pinned=list(lo) + _side_ids(lips, -side, rest))
    s["mouthRollLower"] = _shape(rest, A, {**{i: vec(0, 0.004, -0.005) for i in topo.LIP_LOWER_OUTER[1:-1]},
                                           **{i: vec(0, 0.002, -0.004) for i in topo.LIP_LOWER_INNER[1:-1]}},
                                 R, pinned=up)
    s["mouthRollUpper"] = _shape(rest, A, {**{i: vec(0, -0.004, -0.005) for i in topo.LIP_UPPER_OUTER[1:-1]},
                                           **{i: vec(0, -0.002, -0.004) for i in topo.LIP_UPPER_INNER[1:-1]}},
                                 R, pinned=lo)
    return s


def _eye_shapes(rest, A) -> dict[str, np.ndarray]:
    """eyeBlink: the upper lid slides down onto the lower lid (lower lid rises a little)."""
    s = {}
    for name, upper, lower in (("Left", topo.EYE_LEFT_UPPER, topo.EYE_LEFT_LOWER),
                               ("Right", topo.EYE_RIGHT_UPPER, topo.EYE_RIGHT_LOWER)):
        handles = {}
        for iu, il in zip(upper[1:-1], lower[1:-1]):
            meet = 0.7 * rest[il] + 0.3 * rest[iu]
            handles[iu] = meet - rest[iu]
            handles[il] = meet - rest[il]
        handles[upper[0]] = np.zeros(3)
        handles[upper[-1]] = np.zeros(3)
        s[f"eyeBlink{name}"] = _shape(rest, A, handles, 0.016)
    return s


def _brow_shapes(rest, A, k: float) -> dict[str, np.ndarray]:
    """browInnerUp and browOuterUpLeft/Right (the inner brow held still)."""
    s = {}
    inner = {i: np.array([0.0, 0.007 * k, 0.0]) for i in topo.BROW_INNER}
    s["browInnerUp"] = _shape(rest, A, inner, 0.03 * k)
    for name, brow in (("Left", topo.BROW_LEFT), ("Right", topo.BROW_RIGHT)):
        outer = {i: np.array([0.0, 0.007 * k, 0.0]) for i in brow if i not in topo.BROW_INNER}
        s[f"browOuterUp{name}"] = _shape(rest, A, outer, 0.03 * k, pinned=topo.BROW_INNER)
    return s


def _more_shapes(rest, A, k: float, jaw_w: np.ndarray) -> dict[str, np.ndarray]:
    """The rest of the ARKit face: jaw shifts, mouth sideways/frown/dimple/shrug, lids wide/squint, brows down,
    cheeks puff/squint, nose sneer. Each moves only its region (harmonic spread from its handles)."""
    vec = lambda x, y, z: np.array([x, y, z], dtype=np.float64) * k  # noqa: E731
    lips = sorted(set(topo.LIP_UPPER_OUTER + topo.LIP_LOWER_OUTER + topo.LIP_UPPER_INNER + topo.LIP_LOWER_INNER))
    R = 0.035 * k
    s: dict[str, np.ndarray] = {n: (jaw_w[:, None] * np.asarray(v, np.float32)[None]) for n, v in JAW_SHIFTS_M.items()}
    s["mouthShrugLower"] = _shape(rest, A, {i: vec(0, 0.003, 0.003) for i in topo.LIP_LOWER_OUTER[1:-1]}, R,
                                  pinned=topo.LIP_UPPER_OUTER)
    s["mouthShrugUpper"] = _shape(rest, A, {i: vec(0, 0.003, 0.002) for i in topo.LIP_UPPER_OUTER[1:-1]}, R,
                                  pinned=topo.LIP_LOWER_OUTER)
    s["cheekPuff"] = _shape(rest, A, {i: vec(np.sign(rest[i, 0]) * 0.006, 0, 0.004) for i in (50, 280, 205, 425)},
                            0.03 * k, pinned=lips)
    for side, name in ((1, "Left"), (-1, "Right")):
        corner = [291, 308] if side > 0 else [61, 78]
        s[f"mouth{name}"] = _shape(rest, A, {i: vec(side * 0.006, 0, 0) for i in lips}, R)
        s[f"mouthFrown{name}"] = _shape(rest, A, {i: vec(0, -0.006, -0.001) for i in corner}, R, pinned=[13, 14, 0, 17])
        s[f"mouthDimple{name}"] = _shape(rest, A, {i: vec(side * 0.003, 0, -0.004) for i in corner}, R,
                                         pinned=[13, 14, 0, 17])
        upper, lower = (topo.EYE_LEFT_UPPER, topo.EYE_LEFT_LOWER) if side > 0 else (topo.EYE_RIGHT_UPPER,
                                                                                   topo.EYE_RIGHT_LOWER)
        s[f"eyeWide{name}"] = _shape(rest, A, {i: vec(0, 0.0025, 0.0005) for i in upper[1:-1]}, 0.016,
                                     pinned=lower)
        s[f"eyeSquint{name}"] = _shape(rest, A, {**{i: vec(0, 0.002, 0) for i in lower[1:-1]},
                                                 **{i: vec(0, -0.001, 0) for i in upper[1:-1]}}, 0.016)
        brow = topo.BROW_LEFT if side > 0 else topo.BROW_RIGHT
        s[f"browDown{name}"] = _shape(rest, A, {i: vec(-side * 0.002, -0.005, 0) for i in brow}, 0.03 * k,
                                      pinned=upper)
        cheek = (280, 425) if side > 0 else (50, 205)
        s[f"cheekSquint{name}"] = _shape(rest, A, {i: vec(0, 0.004, 0.001) for i in cheek}, 0.025 * k,
                                         pinned=lips + list(upper))
        wing = (358, 327) if side > 0 else (129, 98)
        s[f"noseSneer{name}"] = _shape(rest, A, {i: vec(0, 0.003, 0) for i in wing}, 0.02 * k,
                                       pinned=[1, 4, 13, 0])
    return s
