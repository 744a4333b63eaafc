"""The rasterizer backends against the plain-PyTorch reference, forward and backward (gsplat-style tests).

The first numba call compiles its kernels (tens of seconds cold; numba's disk cache makes later runs fast).
"""

from __future__ import annotations

import math

import pytest
import torch

from vasa3d.errors import InputError
from vasa3d.render import RenderOutput, available_backends, rasterize, resolve_backend
from vasa3d.render._torch_ref import EPS2D, rasterize_torch

FWD_TOL = 1e-4    # max abs difference of rgb, alpha, depth (float32)
GRAD_TOL = 1e-3   # ||g_numba - g_ref|| / max(||g_ref||, 1e-6) per parameter
PARAMS = ("means", "quats", "scales", "opacities", "colors")

needs_numba = pytest.mark.skipif("numba" not in available_backends(), reason="numba not installed")


def _camera(width, height, focal, yaw=0.0, dtype=torch.float32):
    """OpenCV camera at the origin looking down +z, rotated by `yaw` radians about y; K with centred principal
    point."""
    c, s = math.cos(yaw), math.sin(yaw)
    view = torch.tensor([[c, 0, -s, 0], [0, 1, 0, 0], [s, 0, c, 0], [0, 0, 0, 1]], dtype=dtype)
    K = torch.tensor([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=dtype)
    return view, K


def random_scene(n, width=80, height=72, dim=3, seed=0, cams=1, depth=2.0, spread=0.4, scale=(0.005, 0.06)):
    """n random Gaussians in front of `cams` cameras (yaw 0, 0.15, ...); dict of rasterize() kwargs."""
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(n, 3, generator=g) * spread + torch.tensor([0.0, 0.0, depth])
    views, Ks = zip(*(_camera(width, height, 0.9 * width, yaw=0.15 * i) for i in range(cams)))
    return dict(
        means=means,
        quats=torch.randn(n, 4, generator=g),
        scales=scale[0] + (scale[1] - scale[0]) * torch.rand(n, 3, generator=g),
        opacities=torch.rand(n, generator=g),
        colors=torch.rand(n, dim, generator=g),
        viewmats=torch.stack(views),
        Ks=torch.stack(Ks),
        width=width,
        height=height,
        backgrounds=torch.rand(cams, dim, generator=g),
    )


def _render_with_grads(scene, backend, seed=1):
    """Render, back-propagate a fixed random linear loss of rgb, alpha, depth; return (output, grads)."""
    leaves = {k: scene[k].clone().requires_grad_(True) for k in (*PARAMS, "backgrounds")}
    out = rasterize(**{**scene, **leaves}, backend=backend)
    g = torch.Generator().manual_seed(seed)
    loss = sum((t * torch.randn(t.shape, generator=g).to(t)).sum() for t in (out.rgb, out.alpha, out.depth))
    loss.backward()
    out = RenderOutput(out.rgb.detach(), out.alpha.detach(), out.depth.detach())
    return out, {k: v.grad for k, v in leaves.items()}


def _rel(a, b):
    return float((a.double() - b.double()).norm() / max(float(b.double().norm()), 1e-6))


def assert_backends_agree(scene, backend="numba"):
    out_a, grads_a = _render_with_grads(scene, backend)
    out_b, grads_b = _render_with_grads(scene, "torch")
    for name in ("rgb", "alpha", "depth"):
        a, b = getattr(out_a, name), getattr(out_b, name)
        assert a.shape == b.shape
        assert float((a - b).abs().max()) < FWD_TOL, name
    for name in (*PARAMS, "backgrounds"):
        assert torch.isfinite(grads_a[name]).all(), name
        assert _rel(grads_a[name], grads_b[name]) < GRAD_TOL, name
    return out_b


@needs_numba
def test_numba_matches_reference_on_random_scene():
    out = assert_backends_agree(random_scene(1500))
    assert 0.2 < float(out.alpha.mean()) < 0.99  # the scene is neither empty nor saturated


@needs_numba
def test_numba_matches_reference_on_head_like_scene():
    """The benchmark's scene (flat discs on an ellipsoid, many saturating layers) at a small size."""
    from vasa3d.render.bench import head_scene

    scene = head_scene(4000, 96, seed=3)
    scene["backgrounds"] = torch.tensor([[0.2, 0.3, 0.4]])
    out = assert_backends_agree(scene)
    assert float(out.alpha.max()) > 0.999  # pixels saturate: the early-termination rule is exercised


@needs_numba
@pytest.mark.parametrize("scene_name", ["random", "head"])
def test_render_image_equals_the_composited_reference(scene_name):
    """The inference kernel (RGB over a background image, straight to uint8) gives the torch reference's image
    composited over the same plate, to within one 8-bit level, and exactly 255 * plate where nothing is drawn."""
    from vasa3d.render import render_image
    from vasa3d.render.bench import head_scene

    scene = random_scene(1500, width=80, height=72) if scene_name == "random" else head_scene(4000, 96, seed=3)
    h, w = scene["height"], scene["width"]
    plate = torch.rand(h, w, 3, generator=torch.Generator().manual_seed(5))
    args = [scene[k] for k in PARAMS]
    frame = render_image(*args, scene["viewmats"][0], scene["Ks"][0], w, h, plate, backend="numba")
    ref = render_image(*args, scene["viewmats"][0], scene["Ks"][0], w, h, plate, backend="torch")
    assert frame.dtype == torch.uint8 and frame.shape == (h, w, 3)
    assert int((frame.int() - ref.int()).abs().max()) <= 1
    alpha = rasterize(*args, scene["viewmats"], scene["Ks"], w, h, backend="torch").alpha[0, ..., 0]
    empty = alpha == 0
    assert 0 < int(empty.sum()) < h * w
    assert torch.equal(frame[empty], (plate[empty] * 255.0 + 0.5).to(torch.uint8))


def test_render_image_refuses_non_rgb_colours():
    scene = random_scene(10, dim=4)
    with pytest.raises(InputError, match="RGB"):
        from vasa3d.render import render_image

        render_image(*[scene[k] for k in PARAMS], scene["viewmats"][0], scene["Ks"][0], 80, 72,
                     torch.zeros(72, 80, 3), backend="torch")


@needs_numba
@pytest.mark.parametrize("dim", [1, 5])
def test_numba_matches_reference_for_other_channel_counts(dim):
    assert_backends_agree(random_scene(400, width=64, height=48, dim=dim, seed=dim))


@needs_numba
def test_numba_matches_reference_with_two_cameras():
    out = assert_backends_agree(random_scene(600, width=64, height=64, cams=2, seed=3))
    assert out.rgb.shape == (2, 64, 64, 3)
    assert float((out.rgb[0] - out.rgb[1]).abs().max()) > 0.05  # the two views differ


@needs_numba
def test_numba_appearance_only_gradients():
    """With only colours and opacities trainable the projection backward is skipped; the gradients agree."""
    scene = random_scene(300, width=48, height=48, seed=5)
    grads = {}
    for backend in ("numba", "torch"):
        leaves = {k: scene[k].clone().requires_grad_(True) for k in ("opacities", "colors")}
        out = rasterize(**{**scene, **leaves}, backend=backend)
        (out.rgb.sum() + 0.5 * out.alpha.sum()).backward()
        grads[backend] = leaves
    for name in ("opacities", "colors"):
        assert _rel(grads["numba"][name].grad, grads["torch"][name].grad) < GRAD_TOL


def _edge_scene():
    """Gaussians behind the camera, straddling the near plane, off-screen, huge, needle-like, invisible."""
    scene = random_scene(300, width=64, height=64, seed=7)
    m, s, o = scene["means"], scene["scales"], scene["opacities"]
    m[:20, 2] = -1.0                       # behind the camera
    m[20:25, 2] = 0.005                    # in front of the camera but nearer than the near plane
    m[25:45, 0] += 30.0                    # far outside the image
    m[45:48] = torch.tensor([[0.0, 0.0, 3.0], [0.3, -0.2, 4.0], [0.0, 0.0, 1.0]])
    s[45:48] = torch.tensor([[1.5, 1.2, 1.0], [3.0, 2.0, 0.5], [0.8, 0.8, 0.8]])  # cover the whole image
    o[45:48] = torch.tensor([0.3, 0.2, 0.05])
    s[48:70] = torch.tensor([1e-4, 1e-4, 0.3])  # needles
    s[70:80] = torch.tensor([0.2, 1e-4, 0.2])   # flat discs seen edge-on or face-on
    o[80:100] = 0.0                              # invisible
    return scene


@needs_numba
def test_numba_matches_reference_on_edge_cases():
    assert_backends_agree(_edge_scene())


@needs_numba
@pytest.mark.parametrize("scene_name", ["random", "edge"])
def test_numba_projection_matches_the_reference(scene_name):
    """The block-vectorised projection kernel against `_torch_ref.project`, Gaussian by Gaussian: the same culling,
    2D means, conics and depths, and the visible region's extents from the opacity (including blocks of 16 cut
    short at the end of the array: 203 Gaussians)."""
    import numpy as np

    from vasa3d.render._numba_project import (
        ALPHA_MIN, REC, REC_A, REC_B, REC_C, REC_EXT_X, REC_EXT_Y, REC_OP, REC_U, REC_V, REC_Z, TAU_PAD, project_fwd,
    )
    from vasa3d.render._torch_ref import project

    scene = random_scene(203, width=96, height=80, spread=1.2) if scene_name == "random" else _edge_scene()
    a = {k: scene[k].numpy().astype(np.float32) for k in ("means", "quats", "scales", "opacities")}
    vm, K = scene["viewmats"][0].numpy(), scene["Ks"][0].numpy()
    w, h, n = scene["width"], scene["height"], len(a["means"])
    rec, radii, rects = np.empty((n, REC), np.float32), np.empty(n, np.int32), np.empty((n, 4), np.int32)
    project_fwd(a["means"], a["quats"], a["scales"], a["opacities"], vm, K, w, h, rec, radii, rects)
    m2d, conic, depth, ref_radii = (t.numpy() for t in project(*(scene[k] for k in ("means", "quats", "scales")),
                                                              scene["viewmats"][0], K=scene["Ks"][0], width=w,
                                                              height=h))
    np.testing.assert_array_equal(radii > 0, ref_radii > 0)
    assert np.abs(radii - ref_radii).max() <= 1          # ceil() of float32 vs float64 at an integer boundary
    on = radii > 0
    assert 0 < on.sum() < n                              # both kinds are tested
    assert not rec[~on].any() and not rects[~on].any()
    np.testing.assert_allclose(rec[on][:, [REC_U, REC_V]], m2d[on], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(rec[on][:, [REC_A, REC_B, REC_C]], conic[on], rtol=2e-3, atol=1e-6)
    np.testing.assert_allclose(rec[on][:, REC_Z], depth[on], rtol=1e-6)
    np.testing.assert_array_equal(rec[on][:, REC_OP], a["opacities"][on])
    tau = np.maximum(np.log(np.maximum(a["opacities"][on].astype(np.float64), 1e-30) / ALPHA_MIN) + TAU_PAD, 0)
    det = conic[on][:, 0] * conic[on][:, 2] - conic[on][:, 1] ** 2
    np.testing.assert_allclose(rec[on][:, REC_EXT_X], np.sqrt(2 * tau * conic[on][:, 2] / det), rtol=2e-3,
                               atol=1e-4)
    np.testing.assert_allclose(rec[on][:, REC_EXT_Y], np.sqrt(2 * tau * conic[on][:, 0] / det), rtol=2e-3,
                               atol=1e-4)


@needs_numba
def test_branch_free_log_is_accurate():
    import numpy as np
    from numba import njit

    from vasa3d.render._numba_project import _log_pos

    f = njit(lambda x: np.array([_log_pos(v) for v in x], np.float32))
    x = np.concatenate([np.geomspace(1e-30, 1e30, 20001), np.linspace(0.5, 2.0, 10001)]).astype(np.float32)
    exact = np.log(x.astype(np.float64))
    err = np.abs(f(x).astype(np.float64) - exact)
    assert (err / np.maximum(1.0, np.abs(exact))).max() < 5e-7      # a few float32 ulps of the result
    assert err[(x > 0.5) & (x < 2)].max() < 2e-7                    # far below TAU_PAD


@needs_numba
def test_no_gaussians_renders_the_background():
    scene = random_scene(0, width=32, height=16)
    for backend in ("numba", "torch"):
        out, grads = _render_with_grads(scene, backend)
        assert torch.allclose(out.rgb, scene["backgrounds"][:, None, None, :].expand_as(out.rgb))
        assert float(out.alpha.abs().max()) == 0.0 and float(out.depth.abs().max()) == 0.0
        assert grads["means"] is None or grads["means"].shape == (0, 3)
        assert torch.allclose(grads["backgrounds"].sum(), out.rgb.new_tensor(0.0)) or grads["backgrounds"].shape == (1, 3)


def test_reference_gradcheck_float64():
    scene = random_scene(6, width=20, height=20, seed=11, scale=(0.05, 0.15))
    scene = {k: (v.double() if torch.is_tensor(v) else v) for k, v in scene.items()}
    fixed = {k: scene[k] for k in ("viewmats", "Ks", "width", "height")}

    def f(means, quats, scales, opacities, colors, backgrounds):
        return rasterize_torch(means, quats, scales, opacities, colors, backgrounds=backgrounds, **fixed)

    inputs = [scene[k].clone().requires_grad_(True) for k in (*PARAMS, "backgrounds")]
    assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True)


@needs_numba
def test_numba_float32_gradients_match_float64_reference():
    scene = random_scene(40, width=32, height=32, seed=12, scale=(0.03, 0.12))
    out32, grads32 = _render_with_grads(scene, "numba")
    scene64 = {k: (v.double() if torch.is_tensor(v) else v) for k, v in scene.items()}
    out64, grads64 = _render_with_grads(scene64, "torch")
    assert float((out32.rgb.double() - out64.rgb).abs().max()) < FWD_TOL
    for name in (*PARAMS, "backgrounds"):
        assert grads32[name].dtype == torch.float32
        assert _rel(grads32[name], grads64[name]) < GRAD_TOL, name


def _single_gaussian(mean, scale, opacity, color, width, height, focal, cx, cy):
    return dict(
        means=torch.tensor([mean], dtype=torch.float32),
        quats=torch.tensor([[1.0, 0.0, 0.0, 0.0]]),
        scales=torch.full((1, 3), float(scale)),
        opacities=torch.tensor([float(opacity)]),
        colors=torch.tensor([color], dtype=torch.float32),
        viewmats=torch.eye(4)[None],
        Ks=torch.tensor([[[focal, 0.0, cx], [0.0, focal, cy], [0.0, 0.0, 1.0]]]),
        width=width,
        height=height,
    )


@pytest.mark.parametrize("backend", ["torch", pytest.param("numba", marks=needs_numba)])
def test_known_answer_isotropic_gaussian(backend):
    """One isotropic Gaussian on the optical axis: its 2D covariance is ((f s / z)^2 + 0.3) I."""
    z, focal, scale, opacity = 2.0, 40.0, 0.1, 0.5
    scene = _single_gaussian([0.0, 0.0, z], scale, opacity, [0.2, 0.4, 0.6], 64, 64, focal, 32.5, 32.5)
    out = rasterize(**scene, backgrounds=torch.tensor([[1.0, 1.0, 1.0]]), backend=backend)
    var = (focal * scale / z) ** 2 + EPS2D
    centre = opacity                                    # pixel (32, 32) is centred on the mean: sigma = 0
    right = opacity * math.exp(-0.5 * 1.0 / var)        # pixel (32, 33): dx = 1
    diag = opacity * math.exp(-0.5 * 8.0 / var)         # pixel (34, 34): dx = dy = 2
    assert abs(float(out.alpha[0, 32, 32, 0]) - centre) < 1e-6
    assert abs(float(out.alpha[0, 32, 33, 0]) - right) < 1e-6
    assert abs(float(out.alpha[0, 34, 34, 0]) - diag) < 1e-6
    assert abs(float(out.rgb[0, 32, 33, 0]) - (0.2 * right + (1 - right))) < 1e-6
    assert abs(float(out.depth[0, 32, 33, 0]) - z * right) < 1e-6  # unnormalised expected depth


@pytest.mark.parametrize("backend", ["torch", pytest.param("numba", marks=needs_numba)])
def test_front_gaussian_hides_the_back_one(backend):
    scene = random_scene(2, width=32, height=32)
    scene.update(
        means=torch.tensor([[0.0, 0.0, 3.0], [0.0, 0.0, 2.0]]),  # blue listed first but behind
        quats=torch.tensor([[1.0, 0.0, 0.0, 0.0]] * 2),
        scales=torch.full((2, 3), 0.3),
        opacities=torch.tensor([1.0, 1.0]),
        colors=torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]),
        backgrounds=None,
    )
    out = rasterize(**scene, backend=backend)
    red, _, blue = out.rgb[0, 16, 16].tolist()  # red: alpha 0.987 at this pixel; blue gets the rest
    assert red > 0.98 and blue < 0.02
    assert abs(float(out.depth[0, 16, 16, 0]) - (2.0 * red + 3.0 * blue)) < 1e-4


@pytest.mark.parametrize("backend", ["torch", pytest.param("numba", marks=needs_numba)])
def test_gaussian_only_reaches_tiles_of_its_3_sigma_box(backend):
    """gsplat evaluates a Gaussian only in the 16x16 tiles its square 3-sigma box touches: with sigma = 8 px the
    box of radius ceil(3 sqrt(64.1)) = 25 around x = 6.5 ends in tile 1, so pixel 32 (tile 2) stays empty
    although opacity exp(-26^2 / 128) > 1/255 there."""
    focal, z = 64.0, 1.0
    scale = math.sqrt(64.0 - EPS2D) * z / focal
    scene = _single_gaussian([0.0, 0.0, z], scale, 1.0, [1.0, 1.0, 1.0], 48, 16, focal, 6.5, 6.5)
    alpha = rasterize(**scene, backend=backend).alpha[0, 6, :, 0]
    assert abs(float(alpha[31]) - math.exp(-0.5 * 25.0**2 / 64.0)) < 1e-5
    assert float(alpha[32]) == 0.0


def test_bad_shapes_raise_value_errors():
    scene = random_scene(10, width=16, height=16)
    with pytest.raises(ValueError, match="quats"):
        rasterize(**{**scene, "quats": scene["quats"][:, :3]}, backend="torch")
    with pytest.raises(ValueError, match="Ks"):
        rasterize(**{**scene, "Ks": scene["Ks"][0]}, backend="torch")
    with pytest.raises(ValueError, match="backgrounds"):
        rasterize(**{**scene, "backgrounds": torch.zeros(1, 4)}, backend="torch")
    with pytest.raises(InputError, match="width"):
        rasterize(**{**scene, "width": 0}, backend="torch")
    with pytest.raises(InputError, match="backend"):
        rasterize(**scene, backend="vulkan")


def test_backend_resolution():
    assert "torch" in available_backends()
    assert resolve_backend("torch", "cpu") == "torch"
    expected_cpu = "numba" if "numba" in available_backends() else "torch"
    assert resolve_backend("auto", "cpu") == expected_cpu
    if not torch.cuda.is_available():
        with pytest.raises(InputError):
            resolve_backend("gsplat", "cpu")
    out = rasterize(**random_scene(5, width=16, height=16), backend="torch")
    assert isinstance(out, RenderOutput) and out.rgb.dtype == torch.float32


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gsplat_matches_reference_on_cuda():
    pytest.importorskip("gsplat")
    scene = random_scene(1500)
    cuda = {k: (v.cuda() if torch.is_tensor(v) else v) for k, v in scene.items()}
    out_g, grads_g = _render_with_grads(cuda, "gsplat")
    out_t, grads_t = _render_with_grads(cuda, "torch")
    for name in ("rgb", "alpha", "depth"):
        assert float((getattr(out_g, name) - getattr(out_t, name)).abs().max()) < 1e-3, name
    for name in PARAMS:
        assert _rel(grads_g[name], grads_t[name]) < 1e-2, name


def test_numba_kernel_constants_equal_the_reference():
    """The numba modules hold literal copies (their disk cache cannot see imported values); keep them in step."""
    from vasa3d.render import _numba_project, _numba_raster, _torch_ref

    for mod in (_numba_project, _numba_raster):
        for name in ("ALPHA_MIN", "TILE_SIZE", "ALPHA_MAX", "T_MIN", "EPS2D", "FAR_PLANE", "FOV_CLAMP", "NEAR_PLANE"):
            if hasattr(mod, name):
                assert getattr(mod, name) == getattr(_torch_ref, name), f"{mod.__name__}.{name}"
