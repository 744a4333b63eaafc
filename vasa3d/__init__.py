"""vasa3d: one portrait photo + speech -> a talking 3D Gaussian head, rendered on the CPU or GPU.

Nothing happens at import; the heavy modules (mediapipe, torch, numba) load when first used.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
