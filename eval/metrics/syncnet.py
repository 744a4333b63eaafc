"""lse_c and lse_d: SyncNet's lip-sync error, confidence (LSE-C) and distance (LSE-D), with user-supplied weights.

Definition (Prajwal et al. 2020, "A lip sync expert is all you need for speech to lip generation in the wild",
after Chung & Zisserman 2016, "Out of time"): SyncNet embeds every window of 5 video frames (face crops, 224 x 224,
BGR, 0-255) and the matching 0.2 s of audio (13 MFCCs at 100 Hz, 20 steps); for shifts k = -15..15 frames the
mean over the video of the Euclidean distance between the frame-window and audio-window embeddings is D(k);
LSE-D = min_k D(k), LSE-C = median_k D(k) - min_k D(k) (syncnet_python's `evaluate`: `minval`, `conf`).
The network is `syncnet_python.SyncNetModel.S` from the `syncnet-python` package (0.2.3; its module file is loaded
alone, because the package's `__init__` imports its face-detection pipeline, which needs torchvision). No package
ships SyncNet's weights and nothing is ever downloaded: pass the original `syncnet_v2.model` (a state dict whose
keys carry the `__S__.` prefix of `SyncNetInstance`, or bare keys) with `--syncnet-weights`; it is loaded with
`strict=True` and a missing or mismatched tensor raises `InputError`. Without weights both metrics are null with
the reason. Face crops follow syncnet_python's `crop_video`: the face box (here the tracker's landmark box,
side s) is cropped to 1.4 s around a centre 0.2 s below the box centre and resized to 224 x 224.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np

from eval.metrics import Score

VSHIFT = 15
WINDOW = 5
CROP_PX = 224
MFCC_PER_FRAME = 4
_MODELS: dict[str, object] = {}


def _model_class():
    """`syncnet_python.SyncNetModel.S`, loaded from the installed package's file; ImportError when absent."""
    spec = importlib.util.find_spec("syncnet_python")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("syncnet-python is not installed (pip install --no-deps syncnet-python==0.2.3)")
    path = Path(list(spec.submodule_search_locations)[0]) / "SyncNetModel.py"
    mod_spec = importlib.util.spec_from_file_location("_vasa3d_syncnet_model", path)
    module = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(module)
    return module.S


def load_syncnet(weights: Path):
    """The SyncNet network (eval mode, CPU) with the weights in `weights`, loaded strictly; cached by the file's
    SHA-256. Raises InputError for a missing, unreadable or mismatched file, ImportError without syncnet-python."""
    import torch

    from vasa3d.errors import InputError

    weights = Path(weights)
    if not weights.is_file():
        raise InputError(f"SyncNet weights '{weights}' not found (give the path of syncnet_v2.model)")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    if digest in _MODELS:
        return _MODELS[digest]
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input problem
        raise InputError(f"could not read SyncNet weights '{weights}': {exc}") from exc
    if not isinstance(state, dict):
        raise InputError(f"'{weights}' is not a state dict of SyncNet tensors")
    state = {k.removeprefix("__S__."): v for k, v in state.items()}
    net = _model_class()()
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise InputError(f"'{weights}' does not match SyncNet: {str(exc).splitlines()[0]}") from exc
    _MODELS[digest] = net.eval()
    return _MODELS[digest]


def face_crops(frames: np.ndarray, track) -> np.ndarray | None:
    """float32 [T, 3, 224, 224] BGR 0-255 crops (see the module docstring); None when a frame has no face (the
    crop box of the nearest tracked frame is used for it) and no frame was tracked."""
    import cv2

    found = np.flatnonzero(track.found)
    if len(found) == 0:
        return None
    H, W = frames.shape[1:3]
    out = np.zeros((len(frames), 3, CROP_PX, CROP_PX), np.float32)
    for t in range(len(frames)):
        lm = track.landmarks[found[np.argmin(np.abs(found - t))], :, :2]
        lo, hi = lm.min(0), lm.max(0)
        s = float((hi - lo).max())
        cx, cy = 0.5 * (lo + hi) + np.array([0.0, 0.2 * s])
        half = 0.7 * s
        x0, y0 = int(round(cx - half)), int(round(cy - half))
        side = int(round(2 * half))
        pad = np.pad(frames[t], ((side, side), (side, side), (0, 0)))
        crop = pad[y0 + side:y0 + 2 * side, x0 + side:x0 + 2 * side]
        crop = cv2.resize(crop, (CROP_PX, CROP_PX), interpolation=cv2.INTER_AREA)
        out[t] = crop[:, :, ::-1].transpose(2, 0, 1)
    return out


def syncnet_distances(net, crops: np.ndarray, wave16: np.ndarray, batch: int = 20) -> np.ndarray:
    """D(k) for k = -VSHIFT..VSHIFT, float64 [2 VSHIFT + 1] (see the module docstring). crops: [T, 3, 224, 224]
    from `face_crops`; wave16: float mono at 16 kHz. Raises ValueError when fewer than 6 frames overlap."""
    import python_speech_features
    import torch

    pcm = np.clip(np.asarray(wave16, np.float64), -1, 1) * 32767.0
    mfcc = np.asarray(python_speech_features.mfcc(pcm, 16000), np.float32).T          # [13, S]
    n = min(len(crops), mfcc.shape[1] // MFCC_PER_FRAME) - WINDOW
    if n < 1:
        raise ValueError("fewer than 6 frames of video with audio")
    im, au = [], []
    with torch.no_grad():
        for i in range(0, n, batch):
            idx = range(i, min(n, i + batch))
            v = np.stack([crops[j:j + WINDOW].transpose(1, 0, 2, 3) for j in idx])           # [B, 3, 5, 224, 224]
            a = np.stack([mfcc[None, :, j * MFCC_PER_FRAME:j * MFCC_PER_FRAME + 20] for j in idx])  # [B, 1, 13, 20]
            im.append(net.forward_lip(torch.from_numpy(v)))
            au.append(net.forward_aud(torch.from_numpy(a)))
        im_feat, au_feat = torch.cat(im), torch.cat(au)
        padded = torch.nn.functional.pad(au_feat, (0, 0, VSHIFT, VSHIFT))
        win = 2 * VSHIFT + 1
        dists = torch.stack([torch.nn.functional.pairwise_distance(im_feat[[i]].repeat(win, 1),
                                                                  padded[i:i + win]) for i in range(n)])
    return dists.mean(0).double().numpy()


def lse(weights: Path | None, frames: np.ndarray | None = None, track=None, wave16: np.ndarray | None = None
        ) -> tuple[Score, Score]:
    """(lse_c, lse_d) of a video (frames uint8 [T, H, W, 3] RGB at 25 fps, its Track, 16 kHz audio); null with the
    reason when no weights are given, syncnet-python is missing, no face was tracked or the video is too short.
    Bad weights raise InputError (see `load_syncnet`)."""
    if weights is None:
        reason = "SyncNet weights not supplied (--syncnet-weights syncnet_v2.model)"
        return Score.null(reason), Score.null(reason)
    try:
        net = load_syncnet(weights)
    except ImportError as exc:
        return Score.null(str(exc)), Score.null(str(exc))
    crops = face_crops(frames, track) if frames is not None and track is not None else None
    if crops is None:
        return Score.null("no tracked face"), Score.null("no tracked face")
    try:
        d = syncnet_distances(net, crops, wave16)
    except ValueError as exc:
        return Score.null(str(exc)), Score.null(str(exc))
    return Score.of(float(np.median(d) - d.min())), Score.of(float(d.min()))
