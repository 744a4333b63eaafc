"""Make the README's pictures from the built-in example portrait (NASA, via scikit-image, public domain):
assets/readme.png (five viewpoints and expressions) and assets/expressions.png (the blendshape contact sheet).
Run: python assets/make_readme_figure.py"""

from __future__ import annotations

from pathlib import Path

import numpy as np

VIEWS = [  # (yaw deg, pitch deg, {blendshape: value}, head rotation axis-angle rad)
    (-25, 0, {}, (0, 0, 0)),
    (0, 0, {"jawOpen": 0.8}, (0.05, 0, 0)),
    (0, 0, {"mouthSmileLeft": 0.8, "mouthSmileRight": 0.8}, (0, 0, 0.05)),
    (15, 5, {"jawOpen": 0.3, "eyeBlinkLeft": 1, "eyeBlinkRight": 1, "mouthFunnel": 0.6}, (0, -0.1, 0)),
    (30, -5, {"jawOpen": 0.5}, (-0.05, 0.15, 0)),
]


def main() -> list[Path]:
    import skimage.data

    from vasa3d.avatar import Avatar, FramePose
    from vasa3d.avatar.view import expression_sheet, render_frame
    from vasa3d.io import write_image

    avatar = Avatar.from_image(skimage.data.astronaut())
    frames = []
    for yaw, pitch, shapes, rot in VIEWS:
        pose = FramePose(names=tuple(shapes), coeffs=np.array(list(shapes.values()), np.float32),
                         head_rotation=np.array(rot, np.float32), head_translation=np.zeros(3, np.float32),
                         gaze=np.zeros(2, np.float32))
        frames.append(render_frame(avatar, pose, np.radians(yaw), np.radians(pitch), 256))
    here = Path(__file__).parent
    return [write_image(here / "readme.png", np.concatenate(frames, axis=1)),
            write_image(here / "expressions.png", expression_sheet(avatar, tile=144))]


if __name__ == "__main__":
    print(*main())
