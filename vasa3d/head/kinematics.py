"""The head model's motion in PyTorch, on any device, differentiable in the rig coefficients and the head pose:
one implementation of the face mesh's deformation, the jaw, the eyeballs and the neck, used by everything the
head carries (mesh vertices and rigid Gaussians alike).

- Face mesh: linear ARKit blendshapes, then the jaw as a rotation about its hinge weighted per vertex (FLAME,
  Li et al. 2017; GaussianAvatars, Qian et al. 2024). `ExpressionRig.deform` is the NumPy reference.
- Jaw: the same shift-then-hinge motion with weight 1 for rigid jaw parts (lower teeth, tongue) (`part_motions`).
- Eyes: each eyeball turns about its centre by the sequence's gaze plus the ARKit eyeLook* coefficients.
- Neck: the head turns about the neck pivot; a point follows `skin` of the rotation and translation (slerp).

Frames and units: head frame at rest (DESIGN.md), metres, radians; quaternions wxyz.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vasa3d.head.model import HeadModel
from vasa3d.head.rig import EYE_LOOK_MAX_RAD, JAW_SHIFTS_M
from vasa3d.head.rotation import left_matrix, matrix_from_quat, quat_from_axis_angle, quat_multiply, rotate_by_quats

STRETCH_CLIP = (0.25, 6.0)     # singular values of a face triangle's deformation gradient are clipped to this range
ISOTROPIC_DEV = 1e-5           # below this deviation of F F^T from isotropy a triangle's stretch has no direction


@dataclass(frozen=True)
class HeadTensors:
    """A `HeadModel` as tensors on one device (a snapshot: later edits of the model are not seen).

    Attributes:
        names: the K + 1 coefficient names the rig accepts (`ExpressionRig.supported`; jawOpen last).
        face_rest [V, 3], deltas [K, V, 3], jaw_weights [V], jaw_hinge [3]: the rig (metres, head frame).
        jaw_open_rad: jaw rotation at jawOpen = 1. mouth_close: index of mouthClose in `names` (-1: none).
        triangles: int64 [F, 3]. photo_edges_inv: [F, 2, 2] inverse in-plane edge matrices of the photo mesh.
        k_ref: [F] the photo triangles' mean edge length, metres.
        jaw_shift: [K + 1, 3] jaw translation per unit coefficient. gaze_coeffs: [K + 1, 4] (yaw, pitch) of the
            right then the left eyeball per unit coefficient (radians). eye_centres [2, 3]. neck_pivot [3].
        part_centres: [4, 3] the points the head, the jaw and the eyes turn about (rows `PART_*`).
    """

    names: tuple[str, ...]
    face_rest: torch.Tensor
    deltas: torch.Tensor
    jaw_weights: torch.Tensor
    jaw_hinge: torch.Tensor
    jaw_open_rad: float
    mouth_close: int
    triangles: torch.Tensor
    photo_edges_inv: torch.Tensor
    k_ref: torch.Tensor
    jaw_shift: torch.Tensor
    gaze_coeffs: torch.Tensor
    eye_centres: torch.Tensor
    neck_pivot: torch.Tensor
    part_centres: torch.Tensor

    @classmethod
    def from_head(cls, head: HeadModel, device: torch.device | str = "cpu",
                  dtype: torch.dtype = torch.float32) -> "HeadTensors":
        """Copy `head` to `device` as `dtype` tensors, with the photo mesh's edge inverses computed once."""
        names = head.rig.supported
        t = lambda a: torch.as_tensor(np.asarray(a), dtype=dtype).to(device)  # noqa: E731
        jaw_shift = np.zeros((len(names), 3))
        for name, shift in JAW_SHIFTS_M.items():
            if name in names:
                jaw_shift[names.index(name)] = shift
        gaze = np.zeros((len(names), 4))
        for name, column, sign in (("eyeLookInRight", 0, 1), ("eyeLookOutRight", 0, -1), ("eyeLookUpRight", 1, 1),
                                   ("eyeLookDownRight", 1, -1), ("eyeLookOutLeft", 2, 1), ("eyeLookInLeft", 2, -1),
                                   ("eyeLookUpLeft", 3, 1), ("eyeLookDownLeft", 3, -1)):
            if name in names:
                gaze[names.index(name), column] = sign * EYE_LOOK_MAX_RAD
        triangles = torch.as_tensor(np.asarray(head.triangles, np.int64)).to(device)
        photo = t(head.face_photo)
        _, k_ref, E = _frames(photo[triangles])
        return cls(names=names, face_rest=t(head.face_rest), deltas=t(head.rig.deltas),
                   jaw_weights=t(head.rig.jaw_weights), jaw_hinge=t(head.rig.jaw_hinge),
                   jaw_open_rad=float(head.rig.jaw_open_rad),
                   mouth_close=names.index("mouthClose") if "mouthClose" in names else -1,
                   triangles=triangles, photo_edges_inv=_inverse_2x2(E), k_ref=k_ref, jaw_shift=t(jaw_shift),
                   gaze_coeffs=t(gaze), eye_centres=t(head.eye_centres), neck_pivot=t(head.neck_pivot),
                   part_centres=t(np.concatenate([np.reshape(head.neck_pivot, (1, 3)),
                                                  np.reshape(head.rig.jaw_hinge, (1, 3)), head.eye_centres])))


def coefficient_vector(head: HeadTensors, names: tuple[str, ...], coeffs: torch.Tensor) -> torch.Tensor:
    """The full [K + 1] coefficient vector (order `head.names`, zeros where absent) from `coeffs` [len(names)].

    mouthClose is limited to the jaw's opening (ARKit: it closes the lips against an open jaw, never beyond it).
    Raises ValueError for an unknown name or mismatched lengths.
    """
    from vasa3d.arkit import check_names

    if coeffs.shape != (len(names),):
        raise ValueError(f"{len(names)} names but coefficients of shape {list(coeffs.shape)}")
    check_names(list(names), head.names)
    index = torch.as_tensor([head.names.index(n) for n in names], dtype=torch.long, device=coeffs.device)
    full = torch.zeros(len(head.names), dtype=coeffs.dtype, device=coeffs.device).index_add(0, index, coeffs)
    return limit_mouth_close(head, full)


def limit_mouth_close(head: HeadTensors, full: torch.Tensor) -> torch.Tensor:
    """`full` [..., K + 1] with mouthClose limited to the jaw's opening (ARKit: it closes the lips against an open
    jaw, never beyond it; as `ExpressionRig.deform` does)."""
    if head.mouth_close < 0:
        return full
    mask = torch.zeros(full.shape[-1], dtype=full.dtype, device=full.device)
    mask[head.mouth_close] = 1.0
    limited = torch.minimum(full[..., head.mouth_close], full[..., -1].clamp(min=0.0))
    return full + mask * (limited - full[..., head.mouth_close])[..., None]


def deform(head: HeadTensors, full: torch.Tensor) -> torch.Tensor:
    """Face-mesh vertices [V, 3] for one full coefficient vector `full` [K + 1] (see `deform_batch`)."""
    return deform_batch(head, full[None])[0]


def deform_batch(head: HeadTensors, full: torch.Tensor) -> torch.Tensor:
    """Face-mesh vertices [T, V, 3] for T full coefficient vectors `full` [T, K + 1] (mouthClose limited): the
    linear shapes (the jaw's shifts among them, weighted by jaw_weights), then the jaw's rotation blended by each
    vertex's jaw weight; the rotation takes the same axis-angle -> quaternion -> matrix path as the rigid jaw's in
    `part_motions`. `ExpressionRig.deform` is the NumPy reference."""
    full = limit_mouth_close(head, full)
    T, (K, V, _) = full.shape[0], head.deltas.shape
    verts = head.face_rest + (full[:, :-1] @ head.deltas.reshape(K, V * 3)).reshape(T, V, 3)
    zero = torch.zeros_like(full[:, -1])
    R = matrix_from_quat(quat_from_axis_angle(torch.stack([full[:, -1] * head.jaw_open_rad, zero, zero], 1)))
    turned = (verts - head.jaw_hinge) @ R.transpose(1, 2) + head.jaw_hinge
    return verts + head.jaw_weights[None, :, None] * (turned - verts)


PART_HEAD, PART_JAW, PART_EYE_R, PART_EYE_L = range(4)      # rows of `PartMotions`
# the scalar angles (jaw, right eye yaw, pitch, left eye yaw, pitch) -> the axis-angle vectors of the jaw and the
# four eye rotations (the eyes: yaw about +y after pitch about -x)
_ANGLES_TO_ROTVECS = torch.tensor([[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                                   [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                                   [0, 0, 0, 0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0],
                                   [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],
                                   [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0, 0]], dtype=torch.float64)


@dataclass(frozen=True)
class PartMotions:
    """The rigid motions of one frame, for the head (about the neck pivot), the jaw (about its hinge, after its
    shift) and the right and left eyeballs (about their centres), in the rows `PART_*`:
    a point p of a part moves to R @ (p - centre) + target; its quaternion q to L @ q (= part rotation * q).

    R: [4, 3, 3]; L: [4, 4, 4] left-multiplication matrices of the parts' quaternions; centre, target: [4, 3] m.
    """

    R: torch.Tensor
    L: torch.Tensor
    centre: torch.Tensor
    target: torch.Tensor

    def apply(self, part: int, points: torch.Tensor, quats: torch.Tensor | None
              ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Structure of arrays: points [3, N] and quats [4, N] (or None) moved by part `part`."""
        moved = self.R[part] @ (points - self.centre[part, :, None]) + self.target[part, :, None]
        return moved, None if quats is None else self.L[part] @ quats


def part_motions(head: HeadTensors, full: torch.Tensor, rotvec: torch.Tensor, translation: torch.Tensor,
                 gaze: torch.Tensor) -> PartMotions:
    """`PartMotions` of a frame: full [K + 1] coefficients; head rotation `rotvec` [3] (axis-angle, rad) and
    `translation` [3] (m); `gaze` [2] (yaw, pitch, rad; +yaw looks to the viewer's right, +pitch up) plus the
    eyeLook* coefficients. The jaw turns by jawOpen * jaw_open_rad about the hinge's x axis after its shift, exactly
    as the mesh's jaw vertices of weight 1 do in `deform`."""
    eyes = (full @ head.gaze_coeffs).reshape(2, 2) + gaze.reshape(1, 2)           # (yaw, pitch) per eye
    angles = torch.cat([full[-1:] * head.jaw_open_rad, eyes.reshape(4)])
    rotvecs = torch.cat([rotvec[None], (angles @ _ANGLES_TO_ROTVECS.to(angles)).reshape(5, 3)])
    q = quat_from_axis_angle(rotvecs)                                              # head, jaw, R yaw/pitch, L yaw/pitch
    quats = torch.cat([q[:2], quat_multiply(q[2::2], q[3::2])])
    R = matrix_from_quat(quats)
    shift = full @ head.jaw_shift
    moves = torch.cat([translation[None], (R[PART_JAW] @ shift)[None], torch.zeros_like(R[:2, 0])])
    return PartMotions(R=R, L=left_matrix(quats), centre=head.part_centres, target=head.part_centres + moves)


def neck_skin(head: HeadTensors, points: torch.Tensor, quats: torch.Tensor, skin: torch.Tensor,
              rotvec: torch.Tensor, translation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Structure of arrays: points [3, N] and quats [4, N] turned with the head about the neck pivot, each by
    `skin` [N] (in [0, 1]) of the rotation `rotvec` [3] (axis-angle, rad) and the `translation` [3] (metres): a
    slerp of the rotation (each point's quaternion is that of skin * rotvec)."""
    q = quat_from_axis_angle(rotvec[:, None] * skin[None], dim=0)                 # [4, N]
    moved = rotate_by_quats(q, points - head.neck_pivot[:, None], dim=0) + head.neck_pivot[:, None] \
        + translation[:, None] * skin
    return moved, quat_multiply(q, quats, dim=0)


def _frames(corners: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-triangle frames (GaussianAvatars) of triangles given by corners [F, 3, 3]: (R [F, 3, 3] with columns
    edge direction, in-plane normal, face normal; k [F] mean edge length, metres; E [F, 2, 2] the edges
    v1 - v0 and v2 - v0 (columns) in the in-plane axes (rows)). `vasa3d.avatar.quat.triangle_frames` is the
    NumPy reference of R and k."""
    edges = corners[:, 1:] - corners[:, :1]
    a, b = edges[:, 0], edges[:, 1]
    lengths = torch.cat([edges, (b - a)[:, None]], 1).norm(dim=2)                # |a|, |b|, |c| [F, 3]
    n = torch.linalg.cross(a, b, dim=1)
    n = n / n.norm(dim=1, keepdim=True).clamp(min=1e-12)
    e1 = a / lengths[:, :1].clamp(min=1e-12)
    R = torch.stack([e1, torch.linalg.cross(n, e1, dim=1), n], dim=2)
    return R, lengths.mean(1), R[:, :, :2].transpose(1, 2) @ edges.transpose(1, 2)


@dataclass(frozen=True)
class FaceFrames:
    """The posed face triangles: corners [F, 3, 3] (rows: vertices 0, 1, 2), R [F, 3, 3] frames (columns: edge
    direction, in-plane normal, face normal), k [F] mean edge lengths (m), theta [F] and sigma [F, 2]: the
    in-plane stretch from the photo mesh (see `_stretch_from_edges`)."""

    corners: torch.Tensor
    R: torch.Tensor
    k: torch.Tensor
    theta: torch.Tensor
    sigma: torch.Tensor


def face_frames(head: HeadTensors, verts: torch.Tensor) -> FaceFrames:
    """`FaceFrames` of the face mesh `verts` [V, 3] (one pass: the edges serve frames and stretch)."""
    corners = verts[head.triangles]
    R, k, E = _frames(corners)
    theta, sigma = _stretch_from_edges(head, E)
    return FaceFrames(corners=corners, R=R, k=k, theta=theta, sigma=sigma)


def _inverse_2x2(E: torch.Tensor) -> torch.Tensor:
    det = E[:, 0, 0] * E[:, 1, 1] - E[:, 0, 1] * E[:, 1, 0]
    det = torch.where(det.abs() > 1e-14, det, torch.full_like(det, 1e-14))
    adj = torch.stack([torch.stack([E[:, 1, 1], -E[:, 0, 1]], 1), torch.stack([-E[:, 1, 0], E[:, 0, 0]], 1)], 1)
    return adj / det[:, None, None]


def _stretch_from_edges(head: HeadTensors, E: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """In-plane stretch of each face triangle from the photo mesh, given its posed edges E [F, 2, 2] in its own
    in-plane axes: (theta [F] rad, the major stretch axis's angle from the frame's first axis, 0 where the stretch
    is isotropic; sigma [F, 2] singular values of the deformation gradient F, clipped to `STRETCH_CLIP`). Safe
    to differentiate everywhere."""
    F = E @ head.photo_edges_inv
    a = (F[:, 0] ** 2).sum(1)                      # C = F F^T = [[a, b], [b, c]]
    b = (F[:, 0] * F[:, 1]).sum(1)
    c = (F[:, 1] ** 2).sum(1)
    half_diff = 0.5 * (a - c)
    dev = torch.sqrt((half_diff * half_diff + b * b).clamp(min=ISOTROPIC_DEV ** 2))
    mean = 0.5 * (a + c)
    lo, hi = STRETCH_CLIP[0] ** 2, STRETCH_CLIP[1] ** 2
    sigma = torch.sqrt(torch.stack([mean + dev, mean - dev], dim=1).clamp(min=lo, max=hi))
    iso = dev <= ISOTROPIC_DEV
    theta = 0.5 * torch.atan2(torch.where(iso, torch.zeros_like(b), 2 * b),
                              torch.where(iso, torch.ones_like(a), a - c))
    return torch.where(iso, torch.zeros_like(theta), theta), sigma
