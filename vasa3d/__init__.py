"""vasa3d: one portrait photo + speech -> a talking 3D Gaussian head, rendered on the CPU or GPU.

Nothing happens at import; the heavy modules (mediapipe, torch, numba) load when first used.
"""

from __future__ import annotations

import os

# PyTorch (posing) and numba (rasterizing) each bring an OpenMP thread pool. With the default wait policy the
# threads of a finished parallel region spin for a while, so every hand-over between the two pools, twice per
# video frame, fights spinning threads for the cores: on a busy 2-core machine a frame loop ran 3-8x slower.
# Passive waiting (idle threads sleep) removes that; it is read when each OpenMP runtime starts, so it is set
# before either loads. A value the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

__all__ = ["__version__"]
