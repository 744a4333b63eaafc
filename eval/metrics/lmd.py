"""Lip-landmark distance (LMD) between a method's video and the real one, with the landmark source named.

LMD (Chen et al. 2018, "Lip movements generation at a glance") is the mean Euclidean distance between the lip
landmarks of a generated frame and of the real frame it should reproduce. It only means something when both show
the same head pose, so the runner reports it for the rows driven by the real video (self-reenactment, see
`eval.reenact`) and for any method whose frames are compared with the real ones (like LPIPS/PSNR/SSIM).

Units: pixels of the 224-pixel face crop of `eval.metrics.crops` (a box of 1.2 x the real face's landmark extent),
so figures compare across video sizes. Per frame shown in both videos with a face in both: the method's lip points
are mapped into the real frame by the one framing transform of `crops.register`, then both sets into the real
frame's crop box; LMD is the mean over those frames of the mean distance over the lip points.

Landmark sources (`LANDMARKS`):
- `mediapipe`: the evaluation tracker's own 40 lip points (`mp.solutions.face_mesh.FACEMESH_LIPS`), always there.
- `face-alignment`: the 20 mouth points (48-67) of the 68-point 2D-FAN of the `face-alignment` package (Bulat and
  Tzimiropoulos 2017, "How far are we from solving the 2D & 3D face alignment problem?"), the landmarks most LMD
  figures in the literature use. It runs on a box around the tracker's face in each frame (the package's own crop
  and heatmap decoding; no face detector needed). Only used when the package is installed *and* its weights are
  already in the torch cache (`$TORCH_HOME/hub/checkpoints/2DFAN4-11f355bf06.pth.tar`, where the package's own
  first run puts them): nothing is ever downloaded. `auto` picks it then, MediaPipe otherwise; the results record
  which was used (`lmd_landmarks`).
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Protocol

import numpy as np

from vasa3d.head import topology as topo

from eval.metrics import Score
from eval.metrics.crops import face_box_affine
from eval.tracking import Track

LANDMARKS = ("auto", "mediapipe", "face-alignment")
"""Choices of `landmarker` (the `--lmd-landmarks` option)."""

MEDIAPIPE_LIPS = tuple(sorted({*topo.LIP_UPPER_OUTER, *topo.LIP_LOWER_OUTER, *topo.LIP_UPPER_INNER,
                               *topo.LIP_LOWER_INNER}))
"""The 40 MediaPipe face-mesh indices of FACEMESH_LIPS (outer and inner lip contours)."""

FAN_MOUTH = tuple(range(48, 68))
"""The 20 mouth points of the 68-point (iBUG 300-W) layout FAN predicts."""

FAN_WEIGHTS = "2DFAN4-11f355bf06.pth.tar"
"""File name under which face-alignment 1.5 caches its 2D-FAN weights (in `torch.hub.get_dir()/checkpoints`)."""

FAN_BATCH = 8
"""Face crops per FAN forward pass (bounds memory: ~60 MB of activations per crop)."""


class LipLandmarker(Protocol):
    """Lip points of every frame of a video."""

    name: str

    def lips(self, frames: np.ndarray, track: Track) -> np.ndarray:
        """float64 [T, K, 2] lip points in frame pixels (x right, y down) for frames uint8 [T, H, W, 3] and their
        MediaPipe `track`; NaN where the track has no face."""


class MediaPipeLips:
    """The tracker's own lip points (no extra work)."""

    name = "mediapipe"

    def lips(self, frames: np.ndarray, track: Track) -> np.ndarray:
        return track.landmarks[:, MEDIAPIPE_LIPS, :2].astype(np.float64)


class FanLips:
    """The mouth points of face-alignment's 2D-FAN, run on a box around the tracked face of each frame.

    weights: a 2D-FAN state dict as face-alignment caches it (any number of hourglass modules; loaded strictly).
    Raises `InputError` when the package is missing or the file does not hold a 2D-FAN.
    """

    def __init__(self, weights: Path):
        from vasa3d.errors import InputError

        try:
            import torch
            from face_alignment.models import FAN
        except ImportError as exc:
            raise InputError(f"face-alignment landmarks need the face-alignment package ({exc}); "
                             "install it with `pip install --no-deps face-alignment==1.5.0`") from None
        try:
            state = torch.load(Path(weights), map_location="cpu", weights_only=True)
            modules = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"m(\d+)\.", k)))
            net = FAN(modules)
            net.load_state_dict(state, strict=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable or mismatched file is the user's input
            raise InputError(f"{weights} is not a face-alignment 2D-FAN checkpoint: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200]}") from None
        self.net = net.eval()
        self.name = f"face-alignment (2D-FAN, {modules} hourglass{'es' if modules > 1 else ''})"

    def lips(self, frames: np.ndarray, track: Track) -> np.ndarray:
        import torch
        from face_alignment.utils import CENTER_Y_OFFSET, REFERENCE_SCALE, crop, get_preds_fromhm

        out = np.full((len(frames), len(FAN_MOUTH), 2), np.nan)
        todo = [t for t in range(min(len(frames), track.num_frames)) if track.found[t]]
        for start in range(0, len(todo), FAN_BATCH):
            chunk = todo[start:start + FAN_BATCH]
            centres, scales, crops = [], [], []
            for t in chunk:
                xy = track.landmarks[t, :468, :2].astype(np.float64)
                (x0, y0), (x1, y1) = xy.min(0), xy.max(0)
                centre = np.array([0.5 * (x0 + x1), 0.5 * (y0 + y1) - CENTER_Y_OFFSET * (y1 - y0)])
                scale = float((x1 - x0) + (y1 - y0)) / REFERENCE_SCALE
                centres.append(centre)
                scales.append(scale)
                crops.append(crop(frames[t], centre, scale).transpose(2, 0, 1).astype(np.float32) / 255.0)
            with torch.inference_mode():
                heat = self.net(torch.from_numpy(np.stack(crops)))[-1].float().numpy()
            for i, t in enumerate(chunk):
                _, pts, _ = get_preds_fromhm(heat[i:i + 1], centres[i], scales[i])
                out[t] = pts.reshape(-1, 2)[list(FAN_MOUTH)]
        return out


def torch_checkpoints() -> Path:
    """The folder where torch.hub (and face-alignment) cache weights: `$TORCH_HOME/hub/checkpoints`, with TORCH_HOME
    defaulting to `$XDG_CACHE_HOME/torch` or `~/.cache/torch` (torch.hub.get_dir's rule, without importing torch)."""
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(home)) / "hub" / "checkpoints"


def fan_weights_in_cache() -> Path | None:
    """The cached 2D-FAN weights face-alignment would use (`torch_checkpoints() / FAN_WEIGHTS`), or None when the
    file is not there. Never downloads."""
    path = torch_checkpoints() / FAN_WEIGHTS
    return path if path.is_file() else None


def _fan_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("face_alignment") is not None


@functools.lru_cache(maxsize=4)
def _fan(weights: str) -> FanLips:
    return FanLips(Path(weights))


def resolve(choice: str = "auto") -> str:
    """"mediapipe" or "face-alignment": what `choice` in `LANDMARKS` means on this machine (see the module
    docstring), decided without loading any network (the evaluation's driver checks the option with it).

    Raises `InputError` for an unknown choice, and for `face-alignment` when the package or its cached weights are
    missing (saying what to do).
    """
    from vasa3d.errors import InputError

    if choice not in LANDMARKS:
        raise InputError(f"unknown lip landmarks {choice!r}; choose one of {', '.join(LANDMARKS)}")
    if choice == "mediapipe":
        return "mediapipe"
    ready = _fan_installed() and fan_weights_in_cache() is not None
    if choice == "auto":
        return "face-alignment" if ready else "mediapipe"
    if not _fan_installed():
        raise InputError("face-alignment landmarks need the face-alignment package; install it with "
                         "`pip install --no-deps face-alignment==1.5.0`")
    if not ready:
        raise InputError(f"face-alignment landmarks need its weights in {torch_checkpoints() / FAN_WEIGHTS} (put "
                         "them there, e.g. by running face-alignment once where it may download); nothing is "
                         "downloaded here")
    return "face-alignment"


def landmarker(choice: str = "auto") -> LipLandmarker:
    """The lip landmarker for `choice` in `LANDMARKS` (`resolve` decides which; it raises `InputError` as there).
    The loaded network is kept per weights file, so a worker loads it once."""
    if resolve(choice) == "mediapipe":
        return MediaPipeLips()
    return _fan(str(fan_weights_in_cache()))


def lmd(real_lips: np.ndarray, truth: Track, fake_lips: np.ndarray, to_truth: np.ndarray) -> Score:
    """LMD in pixels of the 224-pixel face crop (see the module docstring).

    real_lips, fake_lips: float [T, K, 2] lip points of the real and the method's frames (same landmarker; NaN where
    lost); truth: the real video's track (for the crop boxes); to_truth: float [2, 3] method-frame to real-frame
    similarity from `crops.register`. Null when no frame has lips in both videos.
    """
    n = min(len(real_lips), len(fake_lips), truth.num_frames)
    per_frame = []
    for t in range(n):
        if not truth.found[t] or np.isnan(real_lips[t]).any() or np.isnan(fake_lips[t]).any():
            continue
        box = face_box_affine(truth.landmarks[t])
        fake = fake_lips[t] @ to_truth[:, :2].T + to_truth[:, 2]
        a = real_lips[t] @ box[:, :2].T + box[:, 2]
        b = fake @ box[:, :2].T + box[:, 2]
        per_frame.append(float(np.linalg.norm(a - b, axis=1).mean()))
    if not per_frame:
        return Score.null("no frame with lips in both videos")
    return Score.of(float(np.mean(per_frame)))
