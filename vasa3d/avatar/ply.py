"""Standard 3D Gaussian Splatting .ply export (Kerbl et al. 2023 layout), as read by 3DGS viewers and gr.Model3D."""

from __future__ import annotations

from pathlib import Path

import numpy as np

SH_C0 = 0.28209479177387814   # zeroth spherical-harmonic basis constant


def write_3dgs_ply(path: str | Path, means: np.ndarray, quats: np.ndarray, scales: np.ndarray,
                   opacities: np.ndarray, colors: np.ndarray) -> Path:
    """Write Gaussians as a binary little-endian 3DGS .ply, atomically.

    Args:
        means [N, 3] m; quats [N, 4] wxyz; scales [N, 3] linear m; opacities [N] in (0, 1); colors [N, 3] RGB [0, 1].
    Stored: x y z nx ny nz f_dc_0..2 (= (rgb - 0.5) / SH_C0) opacity (logit) scale_0..2 (log) rot_0..3 (wxyz).
    """
    from vasa3d.io.atomic import atomic_path

    n = means.shape[0]
    names = ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2", "opacity",
             "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    op = np.clip(opacities, 1e-4, 1 - 1e-4)
    data = np.concatenate([means, np.zeros((n, 3)), (colors - 0.5) / SH_C0, np.log(op / (1 - op))[:, None],
                           np.log(np.maximum(scales, 1e-8)), quats], axis=1).astype("<f4")
    header = "ply\nformat binary_little_endian 1.0\nelement vertex %d\n%send_header\n" % (
        n, "".join(f"property float {name}\n" for name in names))
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(header.encode("ascii"))
            fh.write(data.tobytes())
    return path
