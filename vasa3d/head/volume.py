"""The head's outer surface over skull and hair: a closed surface shaped from the person's silhouette in the photo
(not a smooth ellipsoid), that hair, ears and the completed back of the head lie on.

The volume is star-shaped about `centre` and described in a *view frame*: x to the photo's right, y up in the photo,
z towards the photo camera (rows of `view_from_head`, head-frame directions). For each image-plane azimuth
alpha (radians, counter-clockwise from +x) it is the half-ellipse of revolution with lateral radius `lateral(alpha)`
(the silhouette's distance from the centre along alpha, metres) and depth `front(alpha)` towards the camera or
`back(alpha)` away from it:

    p(alpha, beta) = centre + view_from_head.T @ (L sin(beta) cos(alpha), L sin(beta) sin(alpha), Z cos(beta)),
    Z = front if cos(beta) > 0 else back,   beta in [0, pi] from the camera's side,

so seen from the photo camera (orthographically) its outline is exactly the silhouette profile `lateral`. Hair
depth behind the skull grows with the hair's width beyond the skull (`HAIR_DEPTH_SHARE`): big hair is deep, short
hair hugs the skull. Head frame at rest, metres; the volume moves rigidly with the skull.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_AZIMUTHS = 180              # samples of the silhouette profile over the full turn
HAIR_DEPTH_SHARE = 0.8          # hair standing out this far beyond the skull's outline adds this share of it behind
FRONT_DEPTH_SHARE = 0.2         # ... and this share in front (hair over the temples)
FRONT_SHARE = 0.7               # the volume's front half has this share of the skull ellipsoid's depth: seen from
                                # above the skull is an ovoid, narrower in front of the ears than behind them, and an
                                # ellipse as deep as the back puts hair beside the face too far forward
BACK_SHARE = 0.9                # the skull reaches this share of its ellipsoid's depth behind the centre (head
                                # length ~0.19-0.20 m from the glabella, Farkas 1994)
NAPE_TAPER = 0.4                # ... and this much less straight down (the nape)
DEPTH_SMOOTH_RAD = 0.45         # the hair's depth follows its width smoothed over this half-window (no ridges)
LATERAL_RANGE = (0.85, 3.0)     # the silhouette profile is kept within these multiples of the skull's outline


@dataclass
class HeadVolume:
    """The head's outer surface (see the module docstring).

    Attributes:
        centre: float32 [3] head frame, metres. view_from_head: float32 [3, 3] rows: the view frame's axes (photo
            right, photo up, towards the photo camera) in head-frame coordinates.
        lateral, front, back: float32 [A] metres, at azimuths 2 pi i / A (A = `NUM_AZIMUTHS` for built models).
    """

    centre: np.ndarray
    view_from_head: np.ndarray
    lateral: np.ndarray
    front: np.ndarray
    back: np.ndarray

    @classmethod
    def from_ellipsoid(cls, centre: np.ndarray, radii: np.ndarray) -> "HeadVolume":
        """The ellipsoid (centre [3], axis radii [3] along the head frame's x, y, z) as a volume viewed from +z
        (what models built without a silhouette, e.g. read from older files, have)."""
        alpha = azimuths(NUM_AZIMUTHS)
        lateral = ellipse_radius(alpha, float(radii[0]), float(radii[1]))
        depth = np.full(NUM_AZIMUTHS, float(radii[2]), np.float32)
        return cls(centre=np.asarray(centre, np.float32), view_from_head=np.eye(3, dtype=np.float32),
                   lateral=lateral.astype(np.float32), front=depth, back=depth.copy())

    @classmethod
    def from_silhouette(cls, centre: np.ndarray, view_from_head: np.ndarray, skull_radii: np.ndarray,
                        lateral: np.ndarray) -> "HeadVolume":
        """The volume of a measured silhouette profile.

        Args:
            centre: float [3] the skull's centre (head frame, metres).
            view_from_head: float [3, 3] the photo's view frame (see the class docstring).
            skull_radii: float [3] the skull ellipsoid's radii (x, y, z), the volume's floor and depth.
            lateral: float [A] the person's silhouette distance from the centre's image along each azimuth, metres
                at the centre's depth (A equally spaced azimuths from 0).
        Method: the profile is clipped to `LATERAL_RANGE` times the skull's outline; what stands out beyond the
        skull (hair, ears) is smoothed over `DEPTH_SMOOTH_RAD` and adds `HAIR_DEPTH_SHARE` of itself behind the
        skull (`skull_back`) and `FRONT_DEPTH_SHARE` in front (of `FRONT_SHARE` of the ellipsoid's depth).
        """
        alpha = azimuths(len(lateral))
        skull = ellipse_radius(alpha, float(skull_radii[0]), float(skull_radii[1]))
        lateral = np.clip(np.asarray(lateral, np.float64), LATERAL_RANGE[0] * skull, LATERAL_RANGE[1] * skull)
        extra = circular_smooth(np.maximum(lateral - skull, 0.0), DEPTH_SMOOTH_RAD)
        depth = float(skull_radii[2])
        return cls(centre=np.asarray(centre, np.float32), view_from_head=np.asarray(view_from_head, np.float32),
                   lateral=lateral.astype(np.float32),
                   front=(FRONT_SHARE * depth + FRONT_DEPTH_SHARE * extra).astype(np.float32),
                   back=(skull_back(alpha, depth) + HAIR_DEPTH_SHARE * extra).astype(np.float32))

    def radii(self, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lateral, front, back), each float [N], at azimuths `alpha` [N] (radians; periodic linear interpolation)."""
        return tuple(_interp_periodic(alpha, a) for a in (self.lateral, self.front, self.back))

    def surface(self, alpha: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """float [N, 3] head-frame points p(alpha, beta) of the surface (module docstring) for [N] angles."""
        lat, front, back = self.radii(alpha)
        z = np.where(np.cos(beta) > 0, front, back) * np.cos(beta)
        v = np.stack([lat * np.sin(beta) * np.cos(alpha), lat * np.sin(beta) * np.sin(alpha), z], axis=1)
        return self.centre + v @ self.view_from_head

    def normals(self, alpha: np.ndarray, beta: np.ndarray, step: float = 1e-3) -> np.ndarray:
        """float [N, 3] unit outward normals at (alpha, beta) [N] (central differences of `surface`; at the poles
        beta = 0, pi the view axis)."""
        da = self.surface(alpha + step, beta) - self.surface(alpha - step, beta)
        db = self.surface(alpha, beta + step) - self.surface(alpha, beta - step)
        n = np.cross(db, da)
        norm = np.linalg.norm(n, axis=1, keepdims=True)
        axis = np.where((np.cos(beta) >= 0)[:, None], self.view_from_head[2], -self.view_from_head[2])
        n = np.where(norm > 1e-12, n / np.maximum(norm, 1e-12), axis)
        out = self.surface(alpha, beta) - self.centre
        return np.where((np.einsum("ij,ij->i", n, out) < 0)[:, None], -n, n)

    def angles(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(alpha [N], beta [N]) of head-frame points [N, 3] on or near the surface (their direction from the
        centre, with beta scaled by the local radii, so `surface(*angles(p))` is p for points on it)."""
        v = (np.asarray(points, np.float64) - self.centre) @ self.view_from_head.T
        alpha = np.mod(np.arctan2(v[:, 1], v[:, 0]), 2 * np.pi)
        lat, front, back = self.radii(alpha)
        s = np.hypot(v[:, 0], v[:, 1]) / lat
        c = v[:, 2] / np.where(v[:, 2] > 0, front, back)
        return alpha, np.arctan2(s, c)

    def samples(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """About n points spread over the surface: (points [M, 3], unit normals [M, 3], spacing [M] metres, the
        local distance between neighbouring samples). Method: a Fibonacci lattice of directions in the view frame
        mapped onto the surface; the spacing scales with the local radius."""
        i = np.arange(n) + 0.5
        beta = np.arccos(1 - 2 * i / n)
        alpha = np.mod(np.pi * (1 + 5 ** 0.5) * i, 2 * np.pi)
        lat, front, back = self.radii(alpha)
        reach = np.maximum(lat, np.where(np.cos(beta) > 0, front, back))
        return self.surface(alpha, beta), self.normals(alpha, beta), np.sqrt(4 * np.pi / n) * reach

    def ray_hit(self, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First hit of rays from `origin` [3] along unit `dirs` [N, 3] (head frame): (t [N] metres, hit bool [N]);
        where a ray misses, t is its closest approach to the surface's outline (the silhouette).

        Method: the ray's azimuth is taken where it crosses the view plane through the centre; the ray is then
        intersected with that azimuth's ellipsoid of revolution (lateral, lateral, front)."""
        o = self.view_from_head @ (np.asarray(origin, np.float64) - self.centre)
        d = dirs @ self.view_from_head.T.astype(np.float64)
        t0 = -o[2] / np.where(np.abs(d[:, 2]) > 1e-9, d[:, 2], -1e-9)
        q = o[None] + t0[:, None] * d
        lat, front, _ = self.radii(np.arctan2(q[:, 1], q[:, 0]))
        r = np.stack([lat, lat, front], axis=1)
        oo, dd = o[None] / r, d / r
        a = (dd * dd).sum(1)
        b = 2 * (dd * oo).sum(1)
        c = (oo * oo).sum(1) - 1.0
        disc = b * b - 4 * a * c
        t_hit = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * a)
        return np.where(disc > 0, t_hit, t0), disc > 0

    def to_npz_dict(self, prefix: str) -> dict[str, np.ndarray]:
        """Flat arrays for `np.savez` (see `from_npz_dict`)."""
        return {f"{prefix}centre": self.centre, f"{prefix}view_from_head": self.view_from_head,
                f"{prefix}lateral": self.lateral, f"{prefix}front": self.front, f"{prefix}back": self.back}

    @classmethod
    def from_npz_dict(cls, d, prefix: str) -> "HeadVolume":
        """Inverse of `to_npz_dict`; KeyError on a missing array."""
        return cls(**{k: np.asarray(d[f"{prefix}{k}"], np.float32)
                      for k in ("centre", "view_from_head", "lateral", "front", "back")})


def skull_back(alpha: np.ndarray, depth: float) -> np.ndarray:
    """float [N] the skull's depth behind its centre at azimuths `alpha` [N]: `BACK_SHARE` of the ellipsoid's
    `depth` at and above the ears, tapering by `NAPE_TAPER` towards straight down, where the occiput curves into
    the nape (so a short-haired head shows no block of hair behind the jaw when it turns)."""
    return BACK_SHARE * depth * (1 - NAPE_TAPER * np.maximum(-np.sin(alpha), 0.0) ** 2)


def azimuths(n: int) -> np.ndarray:
    """float [n] the profile's azimuths 2 pi i / n, radians."""
    return 2 * np.pi * np.arange(n) / n


def ellipse_radius(alpha: np.ndarray, rx: float, ry: float) -> np.ndarray:
    """float [N] the distance from the centre to the ellipse of radii (rx, ry) along directions `alpha` [N]."""
    return 1.0 / np.sqrt((np.cos(alpha) / rx) ** 2 + (np.sin(alpha) / ry) ** 2)


def circular_smooth(values: np.ndarray, half_window_rad: float) -> np.ndarray:
    """float [A] a periodic profile `values` [A] (equally spaced azimuths) averaged over +- `half_window_rad`."""
    n = len(values)
    h = max(1, int(round(half_window_rad / (2 * np.pi) * n)))
    padded = np.concatenate([values[-h:], values, values[:h]])
    return np.convolve(padded, np.ones(2 * h + 1) / (2 * h + 1), mode="valid")


def _interp_periodic(alpha: np.ndarray, profile: np.ndarray) -> np.ndarray:
    n = len(profile)
    x = np.mod(np.asarray(alpha, np.float64), 2 * np.pi) / (2 * np.pi) * n
    i0 = np.floor(x).astype(int) % n
    w = x - np.floor(x)
    return (1 - w) * profile[i0] + w * profile[(i0 + 1) % n]


TORSO_FRONT_M = 0.02            # the torso's front, at the middle, lies this far in front of the head centre
TORSO_DEPTH_SHARE = 0.5         # half-depth of the torso over its half-width ...
TORSO_DEPTH_RANGE_M = (0.07, 0.12)   # ... within this range
DEFAULT_TORSO_BOTTOM_M = -0.6        # the torso's lowest height (head frame) where the photo's view does not set it


@dataclass
class TorsoBody:
    """Neck down, the body as a curved surface: a vertical elliptic cylinder (axis along the head frame's +y)
    through `axis` [3], half-width `half_width` along the horizontal `right` [3] (the photo's right, levelled) and
    half-depth `half_depth` along `forward` = right x up (towards the photo camera), reaching down to the height
    `bottom_y` (below the photo's view). Head frame at rest, metres.

    Its points are axis + W sin(theta) right + D cos(theta) forward + y up, theta = 0 facing the camera.
    """

    axis: np.ndarray
    right: np.ndarray
    half_width: float
    half_depth: float
    bottom_y: float = DEFAULT_TORSO_BOTTOM_M

    @property
    def forward(self) -> np.ndarray:
        """float [3] the horizontal direction the torso's front faces (right x up)."""
        return np.cross(self.right, np.float64([0.0, 1.0, 0.0]))

    @classmethod
    def fitted(cls, neck_x: float, right: np.ndarray, half_width: float,
               bottom_y: float = DEFAULT_TORSO_BOTTOM_M) -> "TorsoBody":
        """The torso of shoulders `half_width` metres either side of the neck's axis at x = `neck_x`, levelled
        `right` [3], with `TORSO_DEPTH_SHARE` of that as its half-depth and its front `TORSO_FRONT_M` in front of
        the head centre, down to `bottom_y`."""
        right = np.float64([right[0], 0.0, right[2]])
        right /= max(np.linalg.norm(right), 1e-9)
        depth = float(np.clip(TORSO_DEPTH_SHARE * half_width, *TORSO_DEPTH_RANGE_M))
        forward = np.cross(right, np.float64([0.0, 1.0, 0.0]))
        axis = np.float64([neck_x, 0.0, 0.0]) + (TORSO_FRONT_M - depth) * forward
        return cls(axis=axis.astype(np.float32), right=right.astype(np.float32), half_width=float(half_width),
                   half_depth=depth, bottom_y=float(bottom_y))

    def surface(self, theta: np.ndarray, y: np.ndarray) -> np.ndarray:
        """float [N, 3] the points at angles `theta` [N] (radians, 0 facing the camera, +pi/2 at `right`) and
        heights `y` [N] (head frame, metres)."""
        p = (self.axis[None] + self.half_width * np.sin(theta)[:, None] * self.right
             + self.half_depth * np.cos(theta)[:, None] * self.forward)
        p[:, 1] = y
        return p

    def normals(self, theta: np.ndarray) -> np.ndarray:
        """float [N, 3] unit outward normals at angles `theta` [N]."""
        n = (np.sin(theta)[:, None] / self.half_width * self.right
             + np.cos(theta)[:, None] / self.half_depth * self.forward)
        return n / np.linalg.norm(n, axis=1, keepdims=True)

    def ray_hit(self, origin: np.ndarray, dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First hit of rays from `origin` [3] along unit `dirs` [N, 3]: (t [N] metres, hit bool [N]); a ray that
        misses gets its closest approach to the cylinder's axis plane (the torso's outline)."""
        basis = np.stack([self.right / self.half_width, self.forward / self.half_depth]).astype(np.float64)
        o = basis @ (np.asarray(origin, np.float64) - self.axis)          # [2] in units of the radii
        d = dirs @ basis.T                                                # [N, 2]
        a = (d * d).sum(1)
        b = 2 * d @ o
        c = o @ o - 1.0
        disc = b * b - 4 * a * c
        t_hit = (-b - np.sqrt(np.maximum(disc, 0))) / (2 * np.maximum(a, 1e-12))
        t_near = -(d @ o) / np.maximum(a, 1e-12)
        return np.where(disc > 0, t_hit, t_near), disc > 0

    def to_npz_dict(self, prefix: str) -> dict[str, np.ndarray]:
        """Flat arrays for `np.savez` (see `from_npz_dict`)."""
        return {f"{prefix}axis": self.axis, f"{prefix}right": self.right,
                f"{prefix}radii": np.float32([self.half_width, self.half_depth]),
                f"{prefix}bottom_y": np.float32(self.bottom_y)}

    @classmethod
    def from_npz_dict(cls, d, prefix: str) -> "TorsoBody":
        """Inverse of `to_npz_dict`; KeyError on a missing array."""
        radii = np.asarray(d[f"{prefix}radii"], np.float32)
        return cls(axis=np.asarray(d[f"{prefix}axis"], np.float32), right=np.asarray(d[f"{prefix}right"], np.float32),
                   half_width=float(radii[0]), half_depth=float(radii[1]), bottom_y=float(d[f"{prefix}bottom_y"]))
