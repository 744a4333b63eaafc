"""Plain-PyTorch reference rasterizer: readable, autograd-differentiable, slow.

This is the specification the fast backends are tested against. It reproduces gsplat's maths (Ye et al. 2024,
"gsplat: An Open-Source Library for Gaussian Splatting", v1.0-1.3 `fully_fused_projection` +
`rasterize_to_pixels`), which follows 3DGS (Kerbl et al. 2023):

1. Projection (per camera): world -> camera with `viewmat`; 3D covariance R S S^T R^T from the normalised wxyz
   quaternion and linear scales; EWA projection with the perspective Jacobian, whose x/z, y/z are clamped to the
   image's half-FOV limits widened by 30 % of the half FOV; 0.3 px^2 added to the 2D covariance diagonal
   (low-pass, no antialiasing compensation); cull if z < NEAR_PLANE or z > FAR_PLANE, det <= 0, or the
   3-sigma box (radius = ceil(3 sqrt(largest eigenvalue))) misses the image.
2. Tiles: a Gaussian is evaluated only in the 16x16 tiles its square radius box touches (gsplat's
   `isect_tiles`), so a pixel outside those tiles never sees it even where its alpha would be >= 1/255.
3. Compositing per pixel, front to back in order of camera-space z of the Gaussian centre (ties by index):
   sigma = 0.5 d^T conic d with d = mean2d - (x + 0.5, y + 0.5); alpha = min(ALPHA_MAX, opacity exp(-sigma));
   skip if sigma < 0 or alpha < ALPHA_MIN; stop (without this Gaussian) once T (1 - alpha) <= T_MIN.
   rgb = sum w_i c_i + T_final bg, alpha = 1 - T_final, depth = sum w_i z_i (gsplat "RGB+D": expected depth
   *not* divided by alpha), with w_i = alpha_i prod_{j<i} (1 - alpha_j).
"""

from __future__ import annotations

import math

import torch

NEAR_PLANE = 0.01        # metres; gsplat culls z < near_plane
FAR_PLANE = 1e10         # metres; gsplat culls z > far_plane
EPS2D = 0.3              # px^2 added to the 2D covariance diagonal (low-pass filter)
TILE_SIZE = 16           # pixels per tile side
ALPHA_MIN = 1.0 / 255.0  # contributions with smaller alpha are skipped
ALPHA_MAX = 0.99         # 3DGS's clamp. gsplat 1.x uses 0.999, which leaves dense pixel-aligned splats ~10% see-
                         # through: a splat that would take T to 1e-4 or below is dropped, not composited
T_MIN = 1e-4             # a pixel is done when its transmittance would drop to or below this
FOV_CLAMP = 0.3          # the Jacobian's x/z, y/z are clamped to the image bounds + 0.3 * tan(half FOV)


def quat_scale_to_covar(quats: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """3D covariances R S S^T R^T [N,3,3] from quats [N,4] (wxyz, any norm) and linear scales [N,3]."""
    w, x, y, z = torch.nn.functional.normalize(quats, dim=-1).unbind(-1)
    rot = torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(-1, 3, 3)
    m = rot * scales[:, None, :]
    return m @ m.transpose(1, 2)


def project(means, quats, scales, viewmat, K, width: int, height: int):
    """EWA-project N Gaussians into one camera (gsplat's `fully_fused_projection`, unpacked).

    Args: means [N,3] world metres, quats [N,4] wxyz, scales [N,3] metres, viewmat [4,4] world->camera
    (OpenCV), K [3,3] pixels, image size in pixels.
    Returns: means2d [N,2] px, conics [N,3] (inverse 2D covariance a, b, c with
    sigma = 0.5 a dx^2 + b dx dy + 0.5 c dy^2), depths [N] camera z in metres, radii [N] int64 px (0 = culled).
    Culled Gaussians get finite dummy values so autograd stays NaN-free.
    """
    rot, trans = viewmat[:3, :3], viewmat[:3, 3]
    mean_c = means @ rot.T + trans
    covar_c = rot @ quat_scale_to_covar(quats, scales) @ rot.T
    x, y, z = mean_c.unbind(-1)
    in_depth = (z >= NEAR_PLANE) & (z <= FAR_PLANE)
    z = torch.where(in_depth, z, torch.ones_like(z))
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    tan_fovx, tan_fovy = 0.5 * width / fx, 0.5 * height / fy
    lim_x_pos, lim_x_neg = (width - cx) / fx + FOV_CLAMP * tan_fovx, cx / fx + FOV_CLAMP * tan_fovx
    lim_y_pos, lim_y_neg = (height - cy) / fy + FOV_CLAMP * tan_fovy, cy / fy + FOV_CLAMP * tan_fovy
    rz = 1.0 / z
    tx = z * torch.minimum(torch.maximum(x * rz, -lim_x_neg), lim_x_pos)
    ty = z * torch.minimum(torch.maximum(y * rz, -lim_y_neg), lim_y_pos)
    zero = torch.zeros_like(z)
    jac = torch.stack([fx * rz, zero, -fx * tx * rz * rz, zero, fy * rz, -fy * ty * rz * rz], -1).reshape(-1, 2, 3)
    cov2d = jac @ covar_c @ jac.transpose(1, 2)
    a = cov2d[:, 0, 0] + EPS2D
    b = cov2d[:, 0, 1]
    c = cov2d[:, 1, 1] + EPS2D
    det = a * c - b * b
    valid = in_depth & (det > 0)
    det = torch.where(valid, det, torch.ones_like(det))
    conics = torch.stack([c / det, -b / det, a / det], -1)
    half_tr = 0.5 * (a + c)
    v1 = half_tr + torch.sqrt(torch.clamp(half_tr * half_tr - det, min=0.01))
    radius = torch.ceil(3.0 * torch.sqrt(v1.detach().clamp(min=0.0)))
    means2d = torch.stack([fx * x * rz + cx, fy * y * rz + cy], -1)
    u, v = means2d.detach().unbind(-1)
    valid = valid & (radius > 0)
    valid = valid & ~((u + radius <= 0) | (u - radius >= width) | (v + radius <= 0) | (v - radius >= height))
    radii = torch.where(valid, radius, torch.zeros_like(radius)).long()
    return means2d, conics, z, radii


def tile_ranges(means2d: torch.Tensor, radii: torch.Tensor, tiles_x: int, tiles_y: int):
    """gsplat's `isect_tiles` box: per-Gaussian tile rectangles [x0, x1) x [y0, y1), int64 [N,4]."""
    m = means2d.detach().float() / TILE_SIZE
    r = radii.float() / TILE_SIZE
    x0 = torch.floor(m[:, 0] - r).clamp(0, tiles_x)
    x1 = torch.ceil(m[:, 0] + r).clamp(0, tiles_x)
    y0 = torch.floor(m[:, 1] - r).clamp(0, tiles_y)
    y1 = torch.ceil(m[:, 1] + r).clamp(0, tiles_y)
    rect = torch.stack([x0, x1, y0, y1], -1).long()
    return torch.where((radii > 0)[:, None], rect, torch.zeros_like(rect))


def _composite_tile(pix, means2d, conics, opacities, feats, bg):
    """Front-to-back compositing of M depth-sorted Gaussians over P pixel centres pix [P,2].

    feats [M,F] are the per-Gaussian values to blend (colours + depth); bg [F]. Returns the blended values [P,F]
    and the final transmittance [P].
    """
    if means2d.shape[0] == 0:
        return bg[None, :].expand(pix.shape[0], -1), torch.ones_like(pix[:, 0])
    d = means2d[None, :, :] - pix[:, None, :]                      # [P,M,2]
    dx, dy = d[..., 0], d[..., 1]
    sigma = 0.5 * (conics[:, 0] * dx * dx + conics[:, 2] * dy * dy) + conics[:, 1] * dx * dy
    alpha = torch.clamp(opacities * torch.exp(-sigma), max=ALPHA_MAX)
    alpha = torch.where((sigma >= 0) & (alpha >= ALPHA_MIN), alpha, torch.zeros_like(alpha))
    # next_T after each Gaussian; it is non-increasing, so "stop at the first next_T <= T_MIN and do not add
    # that Gaussian" keeps exactly the Gaussians with next_T > T_MIN.
    keep = torch.cumprod(1.0 - alpha.detach(), dim=1) > T_MIN
    alpha = torch.where(keep, alpha, torch.zeros_like(alpha))
    trans = torch.cumprod(1.0 - alpha, dim=1)
    trans_before = torch.cat([torch.ones_like(trans[:, :1]), trans[:, :-1]], dim=1)
    weights = alpha * trans_before                                  # [P,M]
    t_final = trans[:, -1]
    return weights @ feats + t_final[:, None] * bg[None, :], t_final


def rasterize_torch(means, quats, scales, opacities, colors, viewmats, Ks, width, height, backgrounds=None):
    """Reference rasterization; same arguments and conventions as `vasa3d.render.rasterize`.

    Returns (rgb [C,H,W,D], alpha [C,H,W,1], depth [C,H,W,1]), differentiable with autograd in means, quats,
    scales, opacities, colors and backgrounds. Memory grows with (Gaussians per tile) x 256 per tile.
    """
    viewmats, Ks = viewmats.to(means), Ks.to(means)  # cameras are not differentiated: any float dtype
    num_cams, dim = viewmats.shape[0], colors.shape[1]
    tiles_x, tiles_y = math.ceil(width / TILE_SIZE), math.ceil(height / TILE_SIZE)
    ys, xs = torch.meshgrid(torch.arange(TILE_SIZE), torch.arange(TILE_SIZE), indexing="ij")
    tile_pix = torch.stack([xs, ys], -1).reshape(-1, 2).to(means) + 0.5   # [256,2] (x, y) centres in a tile
    rgbs, alphas, depths = [], [], []
    for cam in range(num_cams):
        means2d, conics, z, radii = project(means, quats, scales, viewmats[cam], Ks[cam], width, height)
        rect = tile_ranges(means2d, radii, tiles_x, tiles_y)
        order = torch.sort(z.detach(), stable=True).indices      # front to back, ties by index
        feats = torch.cat([colors, z[:, None]], dim=1)
        bg = torch.zeros(dim + 1, dtype=means.dtype, device=means.device)
        if backgrounds is not None:
            bg = torch.cat([backgrounds[cam], bg[:1]])
        out = []
        for ty in range(tiles_y):
            for tx in range(tiles_x):
                hit = (rect[order, 0] <= tx) & (tx < rect[order, 1]) & (rect[order, 2] <= ty) & (ty < rect[order, 3])
                ids = order[hit]
                pix = tile_pix + torch.tensor([tx * TILE_SIZE, ty * TILE_SIZE]).to(means)
                vals, t_final = _composite_tile(pix, means2d[ids], conics[ids], opacities[ids], feats[ids], bg)
                out.append(torch.cat([vals, 1.0 - t_final[:, None]], dim=1))
        img = torch.stack(out).reshape(tiles_y, tiles_x, TILE_SIZE, TILE_SIZE, dim + 2)
        img = img.permute(0, 2, 1, 3, 4).reshape(tiles_y * TILE_SIZE, tiles_x * TILE_SIZE, dim + 2)[:height, :width]
        rgbs.append(img[..., :dim])
        depths.append(img[..., dim : dim + 1])
        alphas.append(img[..., dim + 1 :])
    return torch.stack(rgbs), torch.stack(alphas), torch.stack(depths)
