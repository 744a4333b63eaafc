"""Make assets/readme.png: the built-in example portrait (NASA, via scikit-image) as a talking head from five
viewpoints and expressions. Run: python assets/make_readme_figure.py"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def main() -> Path:
    import skimage.data

    from vasa3d.avatar import Avatar, FramePose
    from vasa3d.io import write_image
    from vasa3d.pipeline import render_frames

    class _Motion:  # the few fields render_frames reads
        fps = 25.0
        names = ("jawOpen", "eyeBlinkLeft", "eyeBlinkRight", "mouthFunnel", "mouthSmileLeft", "mouthSmileRight")
        coeffs = np.array([[0, 0, 0, 0, 0, 0], [0.8, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0.8, 0.8], [0.3, 1, 1, 0.6, 0, 0],
                           [0.5, 0, 0, 0, 0, 0]], np.float32)
        num_frames = 5
        head_rotation = np.array([[0, 0, 0], [0.05, 0, 0], [0, 0, 0.05], [0, -0.1, 0], [-0.05, 0.15, 0]], np.float32)
        head_translation = np.zeros((5, 3), np.float32)
        gaze = np.zeros((5, 2), np.float32)

    avatar = Avatar.from_image(skimage.data.astronaut())
    angles = np.radians(np.array([[-25, 0], [0, 0], [0, 0], [15, 5], [30, -5]], np.float32))
    frames = list(render_frames(avatar, _Motion(), angles, 256))
    out = Path(__file__).with_name("readme.png")
    write_image(out, np.concatenate(frames, axis=1))
    return out


if __name__ == "__main__":
    print(main())
