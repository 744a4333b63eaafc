"""Rendering: the Gaussian rasterizer (numba CPU, gsplat CUDA, torch reference) and cameras.

Importing this package loads torch but no numba kernels; they compile (or load from numba's cache) on first use.
"""

from __future__ import annotations

from vasa3d.render.rasterize import RenderOutput, available_backends, rasterize, render_image, resolve_backend

__all__ = ["RenderOutput", "available_backends", "rasterize", "render_image", "resolve_backend"]
