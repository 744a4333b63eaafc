"""Render an avatar: one posed frame from an orbit of the photo's camera, a contact sheet of expressions."""

from __future__ import annotations

import threading

import numpy as np

from vasa3d.avatar.pose import FramePose


SHEET_COMPANIONS = {"mouthClose": ("jawOpen",)}
"""Shapes shown together with another on the contact sheet (mouthClose acts only against an open jaw)."""


def neutral_pose(names: tuple[str, ...] = (), coeffs=()) -> FramePose:
    """A `FramePose` with the given coefficients, the head still and the eyes straight ahead."""
    return FramePose(names=tuple(names), coeffs=np.asarray(coeffs, np.float32).reshape(len(names)),
                     head_rotation=np.zeros(3, np.float32), head_translation=np.zeros(3, np.float32),
                     gaze=np.zeros(2, np.float32))


class FrameRenderer:
    """Renders frames of one avatar on one device: its tensors are made once (a snapshot of the avatar), then each
    frame is posed and rasterized there, and only the finished uint8 frame comes back to the host.

    Args:
        avatar: an `Avatar`. size: output side in pixels (default: the avatar's crop size). backend: rasterizer
        backend ("auto": gsplat on CUDA, numba on the CPU). device: "cpu", "cuda", "cuda:1", ...
        background: an RGB colour in [0, 1] behind the avatar, or an image float32 [H, W, 3] (resized to `size`),
            instead of the photo's background plate.
        camera: (T_cam_from_head [4, 4], K [3, 3], the side in pixels K is for) to render from instead of the
            photo's camera (e.g. another video's reference camera, for reenactment).
        body_follows_head: the whole person moves with the head's translation, only the head turns
            (`vasa3d.avatar.pose.follow_body`; for motion tracked from a video). Default: the torso stays still.
    Raises InputError for an unavailable backend or device.
    """

    def __init__(self, avatar, size: int | None = None, backend: str = "auto", device: str = "cpu",
                 background=None, camera: tuple[np.ndarray, np.ndarray, int] | None = None,
                 body_follows_head: bool = False):
        import cv2
        import torch

        from vasa3d.avatar.pose import AvatarTensors
        from vasa3d.render.cameras import scale_intrinsics

        device, self.backend = resolve_target(backend, device)
        self.device = torch.device(device)
        self.size = size or avatar.size
        self.avatar = avatar
        self.tensors = AvatarTensors.from_avatar(avatar, self.device)
        self.T_cam_from_head, K, K_size = camera if camera is not None else (avatar.T_cam_from_head, avatar.K,
                                                                             avatar.size)
        self.K = torch.from_numpy(scale_intrinsics(K, K_size, self.size))[None].to(self.device)
        if background is not None and np.ndim(background) == 3:
            behind = cv2.resize(np.asarray(background, np.float32), (self.size, self.size),
                                interpolation=cv2.INTER_AREA)
        elif background is not None:
            behind = np.broadcast_to(np.asarray(background, np.float32).reshape(1, 1, 3), (self.size, self.size, 3))
        else:
            behind = cv2.resize(avatar.background, (self.size, self.size), interpolation=cv2.INTER_AREA)
        self.plate = torch.from_numpy(np.ascontiguousarray(behind, dtype=np.float32)).to(self.device)
        self.body_follows_head = body_follows_head
        self.sorted_skin = self.tensors.params.skin.index_select(0, self.tensors.layout.order)  # posed order
        self._cache = None          # consecutive frames share the tiles only the still torso draws (numba, CPU)
        if self.backend == "numba" and self.device.type == "cpu" and not body_follows_head:
            from vasa3d.avatar.types import Binding, Fade
            from vasa3d.render._numba_autograd import ImageCache

            order = self.tensors.layout.order.cpu().numpy()
            p = avatar.params
            still = (p.binding == int(Binding.BODY)) & (p.skin <= 0) & (p.fade == int(Fade.NONE))
            self._cache = ImageCache(still=still[order])
        self._cache_lock = threading.Lock()
        self._codes = None
        if self.device.type == "cpu" and self.tensors.head.face_rest.dtype == torch.float32:
            from vasa3d.avatar._numba_pose import plan

            self._codes = plan(self.tensors.layout)      # posing in one numba pass (`_numba_pose`)

    def render(self, pose: FramePose, yaw: float = 0.0, pitch: float = 0.0) -> np.ndarray:
        """uint8 [size, size, 3] RGB of `pose` seen from the camera orbited by (`yaw`, `pitch`) radians."""
        return self.draw(self.posed(pose, yaw, pitch))

    def posed(self, pose: FramePose, yaw: float = 0.0, pitch: float = 0.0):
        """The first half of `render`: (the posed Gaussians (`PosedGaussians`, contiguous tensors on the device,
        in the renderer's sorted order), viewmat [4, 4]). Safe to call from another thread than `draw` (the
        avatar's tensors are only read), which is how `vasa3d.pipeline.render_frames` overlaps the two."""
        import torch

        from vasa3d.avatar.pose import follow_body, frame_tensors, pose_tensors
        from vasa3d.render.cameras import orbit_viewmat

        viewmat = torch.from_numpy(orbit_viewmat(self.T_cam_from_head, yaw, pitch)).to(self.device)
        with torch.no_grad():             # the rasterizer needs no particular order of the Gaussians
            if self._codes is not None:
                from vasa3d.avatar._numba_pose import pose_numba

                g = pose_numba(self.tensors, self._codes, *frame_tensors(self.tensors, pose))
            else:
                g = pose_tensors(self.tensors, *frame_tensors(self.tensors, pose), avatar_order=False)
                g = type(g)(**{k: v.contiguous() for k, v in vars(g).items()})
            if self.body_follows_head:
                g = follow_body(g, self.sorted_skin, pose.head_translation)
        return g, viewmat

    def draw(self, posed) -> np.ndarray:
        """The second half of `render`: rasterize what `posed` returned over the plate; uint8 [size, size, 3]."""
        from vasa3d.render import render_image

        g, viewmat = posed
        with self._cache_lock:
            frame = render_image(g.means, g.quats, g.scales, g.opacities, g.colors, viewmat, self.K[0], self.size,
                                 self.size, self.plate, backend=self.backend, cache=self._cache)
        return frame.cpu().numpy()


def resolve_target(backend: str = "auto", device: str = "auto") -> tuple[str, str]:
    """(device, rasterizer backend) that rendering with these choices runs on: `resolve_device`, then
    `vasa3d.render.resolve_backend` for it. Raises InputError for an unavailable device or backend, or a pair
    that cannot work together (numba on a GPU, gsplat on the CPU)."""
    from vasa3d.errors import InputError
    from vasa3d.render import resolve_backend

    device = resolve_device(device)
    name = resolve_backend(backend, device)
    if name == "numba" and device != "cpu":
        raise InputError(f"backend 'numba' runs on the CPU; use --device cpu, or --backend gsplat on {device}")
    return device, name


def resolve_device(device: str = "auto") -> str:
    """"auto" -> "cuda" when PyTorch sees a CUDA GPU and gsplat (its rasterizer) imports, else "cpu"; an explicit
    "cuda[:i]" without a GPU raises InputError; anything else that is not a device raises InputError."""
    import torch

    from vasa3d.errors import InputError
    from vasa3d.render.rasterize import _gsplat_importable

    if device == "auto":
        return "cuda" if torch.cuda.is_available() and _gsplat_importable() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"unknown device {device!r}; choose auto, cpu or cuda") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' was asked for but PyTorch sees no CUDA GPU here; use --device cpu or auto")
    if dev.type not in ("cpu", "cuda"):
        raise InputError(f"device {device!r} is not supported; choose auto, cpu or cuda")
    return str(dev)


def render_frame(avatar, pose: FramePose, yaw: float = 0.0, pitch: float = 0.0, size: int | None = None,
                 backend: str = "auto", background: tuple[float, float, float] | None = None,
                 device: str = "cpu") -> np.ndarray:
    """One frame of `avatar` in `pose`, seen from the photo's camera orbited by (`yaw`, `pitch`) radians
    (a one-off `FrameRenderer`; use one renderer for many frames).

    Args:
        size: output side in pixels (default: the avatar's crop size). backend: rasterizer backend.
        background: an RGB colour in [0, 1] behind the avatar, instead of the photo's background plate.
    Returns:
        uint8 [size, size, 3] RGB.
    """
    return FrameRenderer(avatar, size, backend, device, background).render(pose, yaw, pitch)


def expression_sheet(avatar, names: tuple[str, ...] | None = None, yaws_deg=(-30.0, 0.0, 30.0), tile: int = 160,
                     backend: str = "auto", device: str = "cpu") -> np.ndarray:
    """Contact sheet: one labelled row per blendshape (at 1.0, with its `SHEET_COMPANIONS`; "neutral" first), one
    column per camera yaw.

    Args:
        names: blendshapes to show (default: every name the rig supports). tile: side of one render, pixels.
    Returns:
        uint8 [rows * (tile + label), len(yaws_deg) * tile, 3] RGB. Raises ValueError for an unknown name.
    """
    from PIL import Image, ImageDraw

    names = tuple(avatar.head.rig.supported if names is None else names)
    label_h = 16
    zoom = 2                                         # render at twice the tile size, keep the face window
    T, K = avatar.T_cam_from_head, avatar.K
    nose = K @ (T[:3, :3] @ avatar.head.face_rest[1] + T[:3, 3])
    cx, cy = (nose[:2] / nose[2]) * (zoom * tile / avatar.size)
    x0 = int(np.clip(cx - tile / 2, 0, zoom * tile - tile))
    y0 = int(np.clip(cy - tile / 2, 0, zoom * tile - tile))
    renderer = FrameRenderer(avatar, zoom * tile, backend, device)
    rows = []
    for name in ("neutral",) + names:
        extra = SHEET_COMPANIONS.get(name, ())
        pose = neutral_pose() if name == "neutral" else neutral_pose((name,) + extra, (1.0,) * (1 + len(extra)))
        tiles = [renderer.render(pose, np.radians(y), 0.0)[y0:y0 + tile, x0:x0 + tile] for y in yaws_deg]
        label = Image.new("RGB", (tile * len(tiles), label_h), (255, 255, 255))
        text = "neutral" if name == "neutral" else " + ".join(f"{n} = 1" for n in (name,) + extra)
        ImageDraw.Draw(label).text((4, 2), text, fill=(0, 0, 0))
        rows.append(np.concatenate([np.asarray(label), np.concatenate(tiles, axis=1)], axis=0))
    return _grid(rows, columns=4)


def _grid(rows: list[np.ndarray], columns: int) -> np.ndarray:
    """Lay equally sized row images out `columns` abreast (white padding at the end)."""
    h, w = rows[0].shape[:2]
    n_lines = -(-len(rows) // columns)
    out = np.full((n_lines * h, columns * w, 3), 255, np.uint8)
    for i, r in enumerate(rows):
        y, x = divmod(i, columns)
        out[y * h:(y + 1) * h, x * w:(x + 1) * w] = r
    return out
