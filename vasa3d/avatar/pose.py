"""Place the avatar's Gaussians for one frame, in PyTorch on any device, differentiable with respect to the
Gaussian parameters, the rig coefficients and the head pose.

Face bindings follow GaussianAvatars (Qian et al. 2024): mean = barycentric point + k * R @ local_pos, rotation =
R * local rotation, scale = k * local scale (R, k: the posed triangle's frame and mean edge length), so they move
exactly with the mesh (no wobble by construction); FACE Gaussians also follow their triangle's in-plane stretch.
Rigid bindings move with the jaw and the eyeballs, and everything turns with the head by its skin weight
(`vasa3d.head.kinematics` holds that motion). `vasa3d.avatar.pose_ref` is the NumPy reference.

Usage: `pose(avatar, frame, device)`; for many frames, make `AvatarTensors.from_avatar(avatar, device)` once and
call `pose_tensors` per frame (no host round trips).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from vasa3d.avatar.pose_ref import LASH_FADE, MAX_OPACITY
from vasa3d.avatar.types import Binding, Fade, GaussianParams
from vasa3d.head import kinematics as kin
from vasa3d.head.rotation import left_matrix, quat_from_matrix, right_matrix

PARAM_NAMES = ("bary", "local_pos", "local_quat", "local_scale", "colors", "opacities", "skin")
"""The float arrays of `GaussianParams`, in the order `GaussianTensors` holds them."""


@dataclass
class FramePose:
    """What drives one frame: rig coefficients by ARKit name, head rotation [3] (axis-angle, rad, head frame),
    head translation [3] (m), gaze [2] (yaw, pitch in rad; +yaw looks to the viewer's right, +pitch looks up).
    NumPy arrays or tensors."""

    names: tuple[str, ...]
    coeffs: np.ndarray
    head_rotation: np.ndarray
    head_translation: np.ndarray
    gaze: np.ndarray

    @classmethod
    def of(cls, motion, i: int) -> "FramePose":
        """Frame `i` of a `MotionSequence`."""
        return cls(names=motion.names, coeffs=motion.coeffs[i], head_rotation=motion.head_rotation[i],
                   head_translation=motion.head_translation[i], gaze=motion.gaze[i])


@dataclass
class GaussianFrame:
    """Gaussians of one frame in the head frame at rest (= world): means [N, 3] m, quats [N, 4] wxyz, scales [N, 3] m,
    opacities [N], colors [N, 3]; all float32 NumPy arrays."""

    means: np.ndarray
    quats: np.ndarray
    scales: np.ndarray
    opacities: np.ndarray
    colors: np.ndarray


@dataclass
class PosedGaussians:
    """Gaussians of one frame as tensors (gsplat's `rasterization()` inputs): means [N, 3] m, quats [N, 4] wxyz,
    scales [N, 3] m, opacities [N] in [0, 1], colors [N, 3]; head frame at rest (= world)."""

    means: torch.Tensor
    quats: torch.Tensor
    scales: torch.Tensor
    opacities: torch.Tensor
    colors: torch.Tensor

    def numpy(self) -> GaussianFrame:
        """float32 NumPy copy (detached, on the host)."""
        return GaussianFrame(**{f.name: getattr(self, f.name).detach().to("cpu", torch.float32).numpy()
                                for f in fields(self)})


@dataclass
class GaussianTensors:
    """The float parameters of `GaussianParams` as tensors in the avatar's order (leaves to optimise when fitting):
    bary [N, 3], local_pos [N, 3], local_quat [N, 4], local_scale [N, 3], colors [N, 3], opacities [N], skin [N]."""

    bary: torch.Tensor
    local_pos: torch.Tensor
    local_quat: torch.Tensor
    local_scale: torch.Tensor
    colors: torch.Tensor
    opacities: torch.Tensor
    skin: torch.Tensor

    @classmethod
    def from_params(cls, g: GaussianParams, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                    requires_grad: bool = False) -> "GaussianTensors":
        """Tensors of `g` on `device` (zero-copy views of the arrays for float32 on the CPU without gradients)."""
        def t(a):
            x = torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=device)
            return x.requires_grad_() if requires_grad else x
        return cls(**{name: t(getattr(g, name)) for name in PARAM_NAMES})


@dataclass(frozen=True)
class BindingLayout:
    """The integer structure of an avatar's bindings, on one device: Gaussians sorted by (skin class, binding) so
    that each binding's Gaussians and each skin class's Gaussians lie in contiguous runs (posing then works on
    slices, not on gathers).

    order: int64 [N] sorted position -> avatar index; inverse: int64 [N] avatar index -> sorted position.
    runs: ((Binding, start, end), ...) in sorted order. skin_runs: ((start, end, "head" | "neck" | "still"), ...).
    parent: int64 [N] each Gaussian's triangle in sorted order (0 for rigid bindings: unused).
    edge: bool [N] sorted: True where the length unit is the photo triangle's k_ref (FACE_EDGE).
    fade_right, fade_left: float [N] sorted: 1 on the Gaussians that fade in with that eye's blink.
    """

    order: torch.Tensor
    inverse: torch.Tensor
    runs: tuple
    skin_runs: tuple
    parent: torch.Tensor
    edge: torch.Tensor
    fade_right: torch.Tensor
    fade_left: torch.Tensor

    @classmethod
    def from_params(cls, g: GaussianParams, device: torch.device | str = "cpu",
                    dtype: torch.dtype = torch.float32) -> "BindingLayout":
        """The layout of `g` (validated; ValueError names a malformed array)."""
        g.validate()
        binding = g.binding.astype(np.int64)
        # FACE_RIGID and FACE_EDGE share runs (they differ only in the length unit, `edge`)
        group = np.where(binding == int(Binding.FACE_EDGE), int(Binding.FACE_RIGID), binding)
        skin_class = np.where(g.skin >= 1.0, 0, np.where(g.skin <= 0.0, 2, 1))
        order = np.lexsort((group, skin_class))            # by skin class, then binding; stable
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        key = skin_class[order] * len(Binding) + group[order]
        runs = tuple((Binding(int(k) % len(Binding)), s, e) for k, s, e in _runs(key))
        skin_runs = tuple((s, e, ("head", "neck", "still")[int(k)]) for k, s, e in _runs(skin_class[order]))
        on = lambda a, dt: torch.as_tensor(np.ascontiguousarray(a), dtype=dt, device=device)  # noqa: E731
        return cls(order=on(order, torch.long), inverse=on(inverse, torch.long), runs=runs, skin_runs=skin_runs,
                   parent=on(np.maximum(g.parent[order], 0), torch.long),
                   edge=on(binding[order] == int(Binding.FACE_EDGE), torch.bool),
                   fade_right=on(g.fade[order] == int(Fade.BLINK_RIGHT), dtype),
                   fade_left=on(g.fade[order] == int(Fade.BLINK_LEFT), dtype))


def _runs(values: np.ndarray) -> tuple:
    """((value, start, end), ...) of the runs of equal `values` [N]."""
    if len(values) == 0:
        return ()
    cuts = np.flatnonzero(np.diff(values)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(values)]])
    return tuple((values[s], int(s), int(e)) for s, e in zip(starts, ends))


@dataclass(frozen=True)
class AvatarTensors:
    """Everything posing needs, on one device: the head model's tensors, the binding layout and the Gaussian
    parameters. A snapshot of the avatar when it was made (make a new one after editing the avatar).

    sorted: without gradients, the parameters already in the layout's order (the `PACKED` columns as rows
    [30, N]; colors [N, 3], opacities [N]), so a frame needs no gathers or copies of them.
    face_quats_identity: without gradients, True when every FACE Gaussian's local rotation is the identity (as
    the single-photo builder makes them): their rotation is then their triangle's, with no product to form.
    """

    head: kin.HeadTensors
    layout: BindingLayout
    params: GaussianTensors
    sorted: tuple | None = None
    face_quats_identity: bool = False

    @classmethod
    def from_avatar(cls, avatar, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32,
                    requires_grad: bool = False) -> "AvatarTensors":
        """Tensors of `avatar` (an `Avatar`) on `device`; `requires_grad` makes the Gaussian parameters leaves."""
        layout = BindingLayout.from_params(avatar.params, device, dtype)
        params = GaussianTensors.from_params(avatar.params, device, dtype, requires_grad)
        presorted, identity = None, False
        if not requires_grad:
            face = avatar.params.binding == int(Binding.FACE)
            identity = bool((avatar.params.local_quat[face] == np.float32([1, 0, 0, 0])).all())
            presorted = (_packed(params).index_select(0, layout.order).T.contiguous(),
                         params.colors.index_select(0, layout.order), params.opacities.index_select(0, layout.order))
        return cls(head=kin.HeadTensors.from_head(avatar.head, device, dtype), layout=layout, params=params,
                   sorted=presorted, face_quats_identity=identity)


PACKED = {"bary": slice(0, 3), "local_pos": slice(3, 6), "bary_local_pos": slice(0, 6), "local_quat": slice(6, 10),
          "local_scale": slice(10, 13), "skin": 13, "right_quat": slice(14, 30)}
"""Columns of the per-Gaussian rows posing reads (`_packed`); right_quat: the local quaternion's right-
multiplication matrix R (4 x 4, row-major) with q * local = R @ q."""
def _packed(p: GaussianTensors) -> torch.Tensor:
    """[N, 30] rows of the float parameters in the `PACKED` layout (avatar order)."""
    right = right_matrix(p.local_quat).reshape(-1, 16)
    return torch.cat([p.bary, p.local_pos, p.local_quat, p.local_scale, p.skin[:, None], right], 1)


def frame_tensors(t: AvatarTensors, frame: FramePose) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(full coefficients [K + 1], head rotation [3], head translation [3], gaze [2]) of `frame` on the avatar's
    device and dtype (tensors in `frame` keep their autograd history). ValueError for an unknown name."""
    dev, dtype = t.head.face_rest.device, t.head.face_rest.dtype
    conv = lambda a, n: torch.as_tensor(a, dtype=dtype, device=dev).reshape(n)  # noqa: E731
    full = kin.coefficient_vector(t.head, tuple(frame.names), conv(frame.coeffs, len(frame.names)))
    return full, conv(frame.head_rotation, 3), conv(frame.head_translation, 3), conv(frame.gaze, 2)


def pose(avatar, frame: FramePose, device: torch.device | str = "cpu") -> PosedGaussians:
    """The Gaussians of `avatar` (an `Avatar` or `AvatarTensors`) in `frame`, as tensors on `device`, in the
    avatar's order. Raises ValueError for a coefficient name the rig does not support.
    """
    t = avatar if isinstance(avatar, AvatarTensors) else AvatarTensors.from_avatar(avatar, device)
    return pose_tensors(t, *frame_tensors(t, frame))


def follow_body(g: PosedGaussians, skin: torch.Tensor, head_translation) -> PosedGaussians:
    """`g` with the body carried along by the head's translation: each Gaussian also moves by (1 - skin) of
    `head_translation` [3] (metres), so together with the skinning (`kin.neck_skin`, skin of it) every Gaussian
    moves by the whole translation while only the head turns. `skin` [N]: the Gaussians' skin weights in `g`'s
    order.

    For a person filmed in a video (reenactment, fitting): when the head moves across the frame, the shoulders go
    with it; a still torso under a translated head shows as a stretched neck and a torso left behind. Audio-driven
    motion keeps the torso still (its head translation is a small sway)."""
    t = torch.as_tensor(head_translation, dtype=g.means.dtype, device=g.means.device).reshape(1, 3)
    return replace(g, means=g.means + (1.0 - skin.to(g.means.dtype))[:, None] * t)


def pose_tensors(t: AvatarTensors, full: torch.Tensor, head_rotation: torch.Tensor, head_translation: torch.Tensor,
                 gaze: torch.Tensor, avatar_order: bool = True) -> PosedGaussians:
    """All Gaussians of one frame, head frame at rest.

    Args:
        t: the avatar's tensors. full: [K + 1] coefficients in `t.head.names` order (`kin.coefficient_vector`).
        head_rotation: [3] axis-angle, rad. head_translation: [3] metres. gaze: [2] (yaw, pitch) rad.
        avatar_order: False returns the Gaussians in the layout's sorted order (enough for rendering, and saves
            a gather).
    Method: per skin class, each binding's run is placed (`_place_run`); the face mesh of the "head" class is
    turned with the head before its Gaussians are placed on it (the same result as turning them afterwards,
    for half the work), the rigid parts are turned after.
    """
    lay, head = t.layout, t.head
    if t.sorted is not None:
        data, colors, opacities = t.sorted
    else:
        p = t.params
        data = _packed(p).index_select(0, lay.order).T.contiguous()
        colors, opacities = p.colors.index_select(0, lay.order), p.opacities.index_select(0, lay.order)
    motion = kin.part_motions(head, full, head_rotation, head_translation, gaze)
    verts = kin.deform(head, full)
    tables: dict[bool, tuple[torch.Tensor, torch.Tensor]] = {}

    def table(turned: bool) -> tuple[torch.Tensor, torch.Tensor]:
        if turned not in tables:
            v = motion.apply(kin.PART_HEAD, verts.T, None)[0].T if turned else verts
            tables[turned] = _triangle_tables(head, v)
        return tables[turned]

    parts = []
    for start, end, kind in lay.skin_runs:
        runs = [r for r in lay.runs if start <= r[1] < end]
        if kind == "head":       # the face on the turned mesh; the rigid parts turned after their own motion
            face = [r for r in runs if r[0] in (Binding.FACE, Binding.FACE_RIGID)]
            rigid = [_place_run(t, data, motion, None, *r) for r in runs if r not in face]
            parts += [_place_run(t, data, motion, table(True), *r) for r in face]
            if rigid:
                m, q = motion.apply(kin.PART_HEAD, _cat(x[0] for x in rigid), _cat(x[1] for x in rigid))
                parts.append((m, q, _cat(x[2] for x in rigid)))
            continue
        placed = [_place_run(t, data, motion, table(False), *r) for r in runs]
        m, q, sc = (_cat(x[i] for x in placed) for i in range(3))
        if kind == "neck":
            m, q = kin.neck_skin(head, m, q, data[PACKED["skin"], start:end], head_rotation, head_translation)
        parts.append((m, q, sc))
    opacities = _opacities(head, lay, opacities, full)
    out = _rows(parts, data.shape[1], data)
    if avatar_order:
        out = torch.cat([out, opacities[:, None], colors], 1).index_select(0, lay.inverse)
        return PosedGaussians(means=out[:, :3], quats=out[:, 3:7], scales=out[:, 7:10], opacities=out[:, 10],
                              colors=out[:, 11:])
    return PosedGaussians(means=out[:, :3], quats=out[:, 3:7], scales=out[:, 7:10], opacities=opacities,
                          colors=colors)


def _rows(parts, n: int, like: torch.Tensor) -> torch.Tensor:
    """[n, 10] rows (mean, quat, scale) from the structure-of-arrays parts [(means [3, m], quats [4, m],
    scales [3, m]), ...] in order: each written once, transposed, into its slice."""
    out = like.new_empty((n, 10))
    start = 0
    for m, q, sc in parts:
        end = start + m.shape[1]
        out[start:end, 0:3] = m.T
        out[start:end, 3:7] = q.T
        out[start:end, 7:10] = sc.T
        start = end
    return out


def _cat(items) -> torch.Tensor:
    """torch.cat along dim 1 (structure of arrays: [C, n] pieces), without a copy for a single piece."""
    items = list(items)
    return items[0] if len(items) == 1 else torch.cat(items, 1)


def _place_run(t: AvatarTensors, data: torch.Tensor, motion: kin.PartMotions, tables, binding: Binding, s: int,
               e: int):
    """(means [3, n], quats [4, n], scales [3, n]) of the sorted Gaussians [s, e) of one binding, before the head
    turns them; structure of arrays (`data`: the sorted `PACKED` columns [30, N]), so every product vectorises.
    Face bindings: on the triangle tables `tables` (`_triangle_tables`), which may be turned already; the jaw and
    the eyes by their part's `motion`."""
    lay = t.layout
    run = data[:, s:e]
    lpos, lquat, lscale = run[PACKED["local_pos"]], run[PACKED["local_quat"]], run[PACKED["local_scale"]]
    if binding in (Binding.FACE, Binding.FACE_RIGID):
        cols = tables[binding == Binding.FACE_RIGID].index_select(1, lay.parent[s:e])      # [25 | 24, n]
        A = cols[:18].reshape(3, 6, -1)
        if binding == Binding.FACE and t.face_quats_identity:
            quats = cols[18:22]
        else:
            quats = (run[PACKED["right_quat"]].reshape(4, 4, -1) * cols[None, 18:22]).sum(1)
        if binding == Binding.FACE:
            return (A * run[None, PACKED["bary_local_pos"]]).sum(1), quats, lscale * cols[22:25]
        k = cols[22]                          # FACE_RIGID and FACE_EDGE: no stretch; unit k or k_ref (`edge`)
        unit = torch.where(lay.edge[s:e], cols[23], k)
        weights = torch.cat([run[PACKED["bary"]], lpos * (unit / k)], 0)
        return (A * weights[None]).sum(1), quats, lscale * unit
    part = {Binding.JAW: kin.PART_JAW, Binding.EYE_R: kin.PART_EYE_R, Binding.EYE_L: kin.PART_EYE_L}.get(binding)
    if part is not None:
        return (*motion.apply(part, lpos, lquat), lscale)
    return lpos, lquat, lscale                # SKULL, BODY: no motion of their own


def _triangle_tables(head: kin.HeadTensors, verts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per posed triangle, what a Gaussian on it needs, so each binding gathers one column (tables transposed):
    FACE [25, F]: A = [corners^T | k R] (3 x 6, row-major; mean = A @ [bary, local_pos]), the frame's quaternion
    turned onto the stretch axis (4), the stretch axes (sigma1, sigma2, sqrt(sigma1 sigma2), times k_ref);
    FACE_RIGID [24, F]: A, the frame's quaternion (4), k, k_ref."""
    f = kin.face_frames(head, verts)
    q_plain = quat_from_matrix(f.R)
    L = left_matrix(q_plain)                                    # q_plain * (cos, 0, 0, sin): about the normal
    q_stretch = L[:, :, 0] * torch.cos(0.5 * f.theta)[:, None] + L[:, :, 3] * torch.sin(0.5 * f.theta)[:, None]
    axes = torch.cat([f.sigma, torch.sqrt(f.sigma[:, :1] * f.sigma[:, 1:])], 1) * head.k_ref[:, None]
    A = torch.cat([f.corners.transpose(1, 2), f.k[:, None, None] * f.R], 2).reshape(-1, 18)
    return (torch.cat([A, q_stretch, axes], 1).T.contiguous(),
            torch.cat([A, q_plain, f.k[:, None], head.k_ref[:, None]], 1).T.contiguous())


def _opacities(head: kin.HeadTensors, lay: BindingLayout, opacities: torch.Tensor, full: torch.Tensor):
    """Opacities [N] (sorted order) clamped at `MAX_OPACITY`, the lash lines faded in as the lids close."""
    def fade(name: str) -> torch.Tensor:
        c = full[head.names.index(name)] if name in head.names else torch.zeros_like(full[0])
        return ((c - LASH_FADE[0]) / (LASH_FADE[1] - LASH_FADE[0])).clamp(0.0, 1.0)

    factor = 1.0 + lay.fade_right * (fade("eyeBlinkRight") - 1.0) + lay.fade_left * (fade("eyeBlinkLeft") - 1.0)
    return opacities.clamp(max=MAX_OPACITY) * factor
