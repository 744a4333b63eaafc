"""The mouth interior of the head model: a dark cavity and its back wall and the upper teeth (carried by the
skull), the lower teeth and the tongue (carried by the jaw), as sampled surfaces behind the lips.

Every surface lies at least `MOUTH_CLEARANCE_M` behind the neutral face's surface, so lips and cheeks moved
sideways (mouthLeft, a smile) never uncover it at the mouth corners; the skull-fixed cavity stops at the inner
lower lip as it is when fully open (below the lip corners the skin turns back with the jaw). Head frame, metres.
Each surface has an ambient shade (geometry: corners, tooth gaps) and a generic base colour that the avatar
replaces by one taken from its photo (`vasa3d.avatar.complete.mouth_palette`); the head holds no image data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vasa3d.head import topology as topo
from vasa3d.head.model import HeadModel
from vasa3d.head.rig import rotate_about_hinge

MOUTH_CLEARANCE_M = 0.005       # the interior stays at least this far behind the neutral face's surface
SAMPLE_STEP_M = 0.0012          # spacing of the surface samples
THICKNESS = 0.3                 # a sample's extent along z, in units of its in-plane extent
UPPER_TOOTH_EDGES_M = (0.0, 0.0085, 0.015, 0.021, 0.027)   # incisors, lateral incisors, canines, premolars
LOWER_TOOTH_EDGES_M = (0.0, 0.0055, 0.011, 0.017, 0.023)
TOOTH_GAP_DEPTH = 0.35          # a tooth edge darkens the teeth by this much ...
TOOTH_GAP_WIDTH_M = 0.0006      # ... over this half-width
CORNER_SHADE = (0.55, 0.35)     # the interior darkens towards the corners by this (quadratically), down to this
ARCH_CURVE = 0.25               # the rows curve back by this * dx^2 / half mouth width (a dental arch)
LOWEST_LIP_MARGIN_M = 0.003     # the cavity reaches this far below the fully opened lower lip


@dataclass(frozen=True)
class MouthSurfaceSpec:
    """One surface of the mouth interior: depth behind the inner lips at the middle (m), half width as a share
    of the mouth's, vertical extent (m, relative to the named inner lip), sample spacing and size factors, colour,
    which part carries it ("skull" or "jaw"), tooth edges to darken, and how far below the fully opened lower lip
    a skull-fixed surface may reach (None: not clipped)."""

    name: str
    depth_m: float
    half_width: float
    lip: str                       # "upper" (landmark 13) or "lower" (landmark 14): what `extent_m` is relative to
    extent_m: tuple[float, float]
    color: tuple[float, float, float]
    part: str
    step_factor: float = 1.0
    size: float = 1.0
    tooth_edges_m: tuple[float, ...] = ()
    clip_below_m: float | None = None


MOUTH_SURFACES = (
    # the cavity and its back wall span from the fully opened lower lip up to above the upper inner lip
    MouthSurfaceSpec("cavity", 0.016, 0.95, "cavity", (0.0, 0.004), (0.09, 0.025, 0.03), "skull", size=1.3,
                     clip_below_m=0.003),
    MouthSurfaceSpec("back wall", 0.026, 0.95, "cavity", (0.0, 0.004), (0.05, 0.012, 0.015), "skull",
                     step_factor=2.0, size=2.6, clip_below_m=0.002),
    MouthSurfaceSpec("upper teeth", 0.0045, 0.75, "upper", (-0.009, 0.002), (0.80, 0.77, 0.70), "skull",
                     tooth_edges_m=UPPER_TOOTH_EDGES_M),
    MouthSurfaceSpec("lower teeth", 0.0065, 0.65, "lower", (-0.006, 0.003), (0.70, 0.67, 0.60), "jaw",
                     tooth_edges_m=LOWER_TOOTH_EDGES_M),
    MouthSurfaceSpec("tongue", 0.012, 0.6, "lower", (-0.022, -0.004), (0.50, 0.20, 0.20), "jaw"),
)


@dataclass(frozen=True)
class MouthSurface:
    """Samples of one mouth surface: points float32 [N, 3] (m, head frame at rest), shade float32 [N] in [0, 1]
    (ambient darkening to apply to `spec.color`), sample size (m, in-plane standard deviation)."""

    spec: MouthSurfaceSpec
    points: np.ndarray
    shade: np.ndarray
    size_m: float


def mouth_surfaces(head: HeadModel) -> list[MouthSurface]:
    """The sampled surfaces of `MOUTH_SURFACES` for `head` (see the module docstring)."""
    from scipy.interpolate import LinearNDInterpolator

    f = head.face_rest
    face_depth = LinearNDInterpolator(f[:, :2].astype(np.float64), f[:, 2].astype(np.float64))
    left, right = topo.MOUTH_CORNERS_INNER
    cx, half_w = 0.5 * (f[left, 0] + f[right, 0]), 0.5 * (f[right, 0] - f[left, 0])
    y_top, y_bot = f[topo.UPPER_LIP_INNER_MID, 1], f[topo.LOWER_LIP_INNER_MID, 1]
    z_lip = float(f[list(topo.LIP_UPPER_INNER + topo.LIP_LOWER_INNER), 2].mean())
    opened = rotate_about_hinge(f[[topo.LOWER_LIP_INNER_MID]], np.ones(1, np.float32), head.rig.jaw_hinge,
                                head.rig.jaw_open_rad)
    y_low = float(opened[0, 1]) - LOWEST_LIP_MARGIN_M
    floor = _open_lip_floor(head)
    out = []
    for spec in MOUTH_SURFACES:
        base = {"cavity": (y_low, y_top), "upper": (y_top, y_top), "lower": (y_bot, y_bot)}[spec.lip]
        step = SAMPLE_STEP_M * spec.step_factor
        x, y = _grid(cx - spec.half_width * half_w, cx + spec.half_width * half_w,
                     base[0] + (0.0 if spec.lip == "cavity" else spec.extent_m[0]), base[1] + spec.extent_m[1], step)
        z = z_lip - spec.depth_m - ARCH_CURVE * (x - cx) ** 2 / max(half_w, 1e-3)
        if spec.clip_below_m is not None:            # only where the opened lower lip can uncover it
            inside = y >= floor(x) - spec.clip_below_m
            x, y, z = x[inside], y[inside], z[inside]
        limit = face_depth(np.stack([x, y], axis=1)) - MOUTH_CLEARANCE_M
        z = np.where(np.isfinite(limit), np.minimum(z, limit), z)
        shade = _corner_shade(x, cx, half_w) * _tooth_gaps(x - cx, spec.tooth_edges_m)
        out.append(MouthSurface(spec=spec, points=np.stack([x, y, z], 1).astype(np.float32),
                                shade=shade.astype(np.float32), size_m=SAMPLE_STEP_M * spec.size))
    return out


def _open_lip_floor(head: HeadModel):
    """x -> y: the height (head frame, metres) of the inner lower lip with the jaw fully open (jawOpen = 1), as a
    function of x [N] (linear between the contour's points, the mouth corners' height beyond them)."""
    opened = head.rig.deform(head.face_rest, ("jawOpen",), np.ones(1, np.float32))
    contour = opened[list(topo.LIP_LOWER_INNER)]
    order = np.argsort(contour[:, 0])
    xs, ys = contour[order, 0], contour[order, 1]
    corner_y = float(opened[list(topo.MOUTH_CORNERS), 1].max())
    return lambda x: np.interp(x, xs, ys, left=corner_y, right=corner_y)


def _grid(x0, x1, y0, y1, step):
    """Flattened (x [N], y [N]) of a regular grid over [x0, x1] x [y0, y1] with `step` (metres)."""
    xs = np.arange(x0, x1 + 1e-9, step)
    ys = np.arange(y0, y1 + 1e-9, step)
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


def _corner_shade(x: np.ndarray, cx: float, half_w: float) -> np.ndarray:
    """Ambient shading [N]: 1 at the middle, darker towards the corners (cheeks shadow the side teeth), so the
    teeth read as a curved row rather than a flat white band."""
    return np.clip(1.0 - CORNER_SHADE[0] * ((x - cx) / max(half_w, 1e-3)) ** 2, CORNER_SHADE[1], 1.0)


def _tooth_gaps(dx: np.ndarray, edges) -> np.ndarray:
    """Shade [N] darkening thin bands at the tooth edges `edges` (metres from the mouth's middle, mirrored), so the
    rows read as separate teeth."""
    out = np.ones_like(dx)
    for e in edges:
        for side in ((1.0, -1.0) if e > 0 else (1.0,)):
            out -= TOOTH_GAP_DEPTH * np.exp(-(((dx - side * e) / TOOTH_GAP_WIDTH_M) ** 2))
    return np.clip(out, 0.4, 1.0)
