"""Fitting an avatar to frames of the person: the single-photo avatar of a reference frame, refined through the
differentiable rasterizer against many tracked frames (a talking video, or a few photos).

Method (after GaussianAvatars, Qian et al. 2024, and GaussianHeadTalk's person-specific stage): each step draws a
frame, poses the Gaussians with its tracked rig coefficients and head pose (plus small learned per-frame
corrections; the body follows the head's translation, `vasa3d.avatar.pose.follow_body`, as it does in a video),
rasterizes them over the background plate from the reference camera and takes a photometric loss
L1 + lambda * (1 - SSIM) (Kerbl et al. 2023) against the frame's crop. Adam updates the colours, opacities
(logits), scales (log), small offsets of the face-bound Gaussians from their triangles (units of the triangle
scale, with an L2 penalty) and the per-frame corrections (with an L2 penalty). Gaussians no frame shows (the back
of the head) keep their built values; the mouth interior and teeth take what open-mouth frames show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from vasa3d.avatar.pose import AvatarTensors, GaussianTensors, follow_body, pose_tensors
from vasa3d.avatar.types import FACE_BINDINGS
from vasa3d.config import FitConfig

SSIM_WINDOW = 11        # Gaussian window of the SSIM term (Wang et al. 2004), sigma 1.5
SSIM_SIGMA = 1.5
OPACITY_EPS = 1e-4      # opacities stay within (eps, 1 - eps) so their logits are finite


@dataclass
class FitResult:
    """The fitted avatar and the fit's record: loss per step (float32 [steps]), the frames used (int [F])."""

    avatar: object
    losses: np.ndarray
    frames_used: np.ndarray


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of images a, b [H, W, C] in [0, 1] (Gaussian window 11, sigma 1.5; Wang et al. 2004);
    differentiable."""
    import torch.nn.functional as F

    x = torch.arange(SSIM_WINDOW, dtype=a.dtype, device=a.device) - SSIM_WINDOW // 2
    g = torch.exp(-x * x / (2 * SSIM_SIGMA ** 2))
    g = g / g.sum()
    C = a.shape[2]
    kernel = (g[:, None] * g[None, :]).expand(C, 1, SSIM_WINDOW, SSIM_WINDOW)
    blur = lambda z: F.conv2d(z.permute(2, 0, 1)[None], kernel, groups=C)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2, blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return s.mean()


@dataclass
class _Learned:
    """The fit's parameters (leaves) and how they map to the avatar's Gaussian parameters."""

    colors: torch.Tensor          # [N, 3], clamped to [0, 1] after each step
    opacity_logits: torch.Tensor  # [N]
    log_scales: torch.Tensor      # [N, 3] added to log(local_scale)
    offsets: torch.Tensor         # [M, 3] added to local_pos of the M face-bound Gaussians (units of k)
    face: torch.Tensor            # int64 [M] their indices
    rot: torch.Tensor             # [T, 3] per-frame head rotation corrections (rad)
    trans: torch.Tensor           # [T, 3] ... translation (m)
    coeffs: torch.Tensor          # [T, K + 1] ... rig coefficient corrections

    def gaussians(self, base: GaussianTensors) -> GaussianTensors:
        local_pos = base.local_pos.index_add(0, self.face, self.offsets)
        return replace(base, colors=self.colors, opacities=torch.sigmoid(self.opacity_logits),
                       local_scale=base.local_scale * torch.exp(self.log_scales), local_pos=local_pos)


def fit_avatar(avatar, crops: np.ndarray, motion, config: FitConfig = FitConfig(), progress=None) -> FitResult:
    """Refine `avatar` (built from one of the frames) on tracked frames.

    Args:
        avatar: an `Avatar` whose camera (K, T_cam_from_head) is the frames' camera.
        crops: uint8 [T, S, S, 3] the frames' square crops (any S; rendered at S).
        motion: `MotionSequence` with T frames: the tracked coefficients and head poses of the crops.
        config: steps, learning rates, loss weights, seed. progress: callback(fraction, message) or None.
    Returns:
        `FitResult` with a new `Avatar` (same head model, camera and bindings; fitted Gaussian parameters).
    Raises:
        ValueError: crops and motion of different lengths.
    """
    if len(crops) != motion.num_frames:
        raise ValueError(f"{len(crops)} crops but {motion.num_frames} motion frames")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    base = AvatarTensors.from_avatar(avatar, dtype=torch.float32)          # no gradients: the start values
    full, rot0, trans0 = _motion_tensors(base, motion)
    learned = _initial(avatar, base, len(crops), full.shape[1])
    groups = [{"params": [learned.colors], "lr": config.lr_color},
              {"params": [learned.opacity_logits], "lr": config.lr_opacity},
              {"params": [learned.log_scales], "lr": config.lr_scale},
              {"params": [learned.offsets], "lr": config.lr_offset}]
    if config.lr_frame > 0:
        groups.append({"params": [learned.rot, learned.trans, learned.coeffs], "lr": config.lr_frame})
    opt = torch.optim.Adam(groups)
    render = _renderer(avatar, crops.shape[1], config.backend)
    target = torch.from_numpy(crops)                                       # uint8, converted per step
    losses = np.zeros(config.steps, np.float32)
    grad_t = replace(base, sorted=None, face_quats_identity=False)
    for step in range(config.steps):
        t = int(rng.integers(len(crops)))
        opt.zero_grad()
        trans = trans0[t] + learned.trans[t]
        g = follow_body(pose_tensors(replace(grad_t, params=learned.gaussians(base.params)),
                                     full[t] + learned.coeffs[t], rot0[t] + learned.rot[t], trans, torch.zeros(2)),
                        base.params.skin, trans)
        image = render(g)
        real = target[t].float() / 255.0
        loss = (1 - config.ssim_weight) * (image - real).abs().mean() + config.ssim_weight * (1 - ssim(image, real))
        loss = loss + config.offset_weight * learned.offsets.square().mean() + config.scale_weight * (
            learned.log_scales.square().mean()) + config.frame_weight * (
            learned.rot[t].square().sum() + (learned.trans[t] / 0.01).square().sum() + learned.coeffs[t].square().sum())
        loss.backward()
        opt.step()
        with torch.no_grad():
            learned.colors.clamp_(0.0, 1.0)
            learned.opacity_logits.clamp_(-_logit(1 - OPACITY_EPS), _logit(1 - OPACITY_EPS))
        losses[step] = float(loss.detach())
        if progress is not None and (step % 10 == 0 or step == config.steps - 1):
            progress((step + 1) / config.steps, f"fitting: step {step + 1}/{config.steps}, loss {losses[step]:.4f}")
    return FitResult(avatar=_fitted(avatar, learned, base), losses=losses, frames_used=np.arange(len(crops)))


def _motion_tensors(base: AvatarTensors, motion):
    """(full coefficients [T, K + 1] in the rig's order, head rotation [T, 3], translation [T, 3]) of `motion`."""
    names = base.head.names
    full = np.zeros((motion.num_frames, len(names)), np.float32)
    for j, n in enumerate(motion.names):
        if n in names:
            full[:, names.index(n)] = motion.coeffs[:, j]
    return (torch.from_numpy(full), torch.from_numpy(np.asarray(motion.head_rotation, np.float32)),
            torch.from_numpy(np.asarray(motion.head_translation, np.float32)))


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def _initial(avatar, base: AvatarTensors, frames: int, coeffs: int) -> _Learned:
    p = avatar.params
    face = np.flatnonzero(np.isin(p.binding, [int(b) for b in FACE_BINDINGS]))
    opac = np.clip(p.opacities, OPACITY_EPS, 1 - OPACITY_EPS)
    leaf = lambda a: torch.tensor(a, dtype=torch.float32, requires_grad=True)  # noqa: E731
    return _Learned(colors=leaf(p.colors), opacity_logits=leaf(np.log(opac / (1 - opac))),
                    log_scales=leaf(np.zeros((len(p), 3))), offsets=leaf(np.zeros((len(face), 3))),
                    face=torch.from_numpy(face.astype(np.int64)), rot=leaf(np.zeros((frames, 3))),
                    trans=leaf(np.zeros((frames, 3))), coeffs=leaf(np.zeros((frames, coeffs))))


def _renderer(avatar, size: int, backend: str):
    """image = render(PosedGaussians): [S, S, 3] over the background plate, from the photo's camera."""
    import cv2

    from vasa3d.render import rasterize
    from vasa3d.render.cameras import scale_intrinsics

    viewmat = torch.from_numpy(np.asarray(avatar.T_cam_from_head, np.float32))[None]
    K = torch.from_numpy(scale_intrinsics(avatar.K, avatar.size, size))[None]
    plate = torch.from_numpy(cv2.resize(avatar.background, (size, size), interpolation=cv2.INTER_AREA))

    def render(g):
        out = rasterize(g.means, g.quats, g.scales, g.opacities, g.colors, viewmat, K, size, size, backend=backend)
        return out.rgb[0] + (1.0 - out.alpha[0]) * plate

    return render


def _fitted(avatar, learned: _Learned, base: AvatarTensors):
    """A copy of `avatar` with the learned Gaussian parameters."""
    with torch.no_grad():
        g = learned.gaussians(base.params)
    host = lambda x: x.detach().cpu().numpy().astype(np.float32).copy()  # noqa: E731
    params = replace(avatar.params, colors=host(g.colors), opacities=host(g.opacities),
                     local_scale=host(g.local_scale), local_pos=host(g.local_pos))
    return replace(avatar, params=params, config={**avatar.config, "fitted": True})
