"""A smooth inner edge for the lips: thin Gaussians along the inner lip contours, bound to the lip triangles.

The photo's lip pixels end at the inner-lip polygon on the pixel grid, a staircase that an opening jaw stretches
into visible steps against the dark mouth interior. A line of small lip-coloured Gaussians laid along each contour
edge (as the lash lines are along the lids, `vasa3d.avatar.eyes`) covers the steps with a smooth edge; they ride on
their triangles but, unlike skin, keep their size when the lips stretch (binding `FACE_EDGE`).
"""

from __future__ import annotations

import numpy as np

from vasa3d.avatar.eyes import along_edge
from vasa3d.avatar.lift import block_mean
from vasa3d.avatar.quat import triangle_frames
from vasa3d.avatar.types import Binding, BoundGaussians
from vasa3d.face.analysis import FaceObservation
from vasa3d.head import topology as topo
from vasa3d.head.model import HeadModel

LIP_LINE_STEP_M = 0.0005          # spacing of the Gaussians along the contour
LIP_LINE_SIGMA_M = (0.0006, 0.0005)   # their standard deviation along the contour and across it
LIP_LINE_OFFSET_M = 0.0003        # along the triangle normal: in front of the skin at the edge
LIP_SAMPLE_PX = 2.0               # the colour is the photo's this many pixels outside the mouth opening


def lip_line_gaussians(obs: FaceObservation, head: HeadModel) -> BoundGaussians:
    """Gaussians along the upper and lower inner lip contours (`topo.LIP_UPPER_INNER`, `topo.LIP_LOWER_INNER`), each
    bound to the lip triangle that holds its contour edge, coloured like the photo's lip next to it.

    Returns a `BoundGaussians` with binding FACE_EDGE. Raises ValueError if no contour edge has a triangle.
    """
    R, k = triangle_frames(head.face_photo, head.triangles)
    parents, barys, colours, angles = [], [], [], []
    for contour, side in ((topo.LIP_UPPER_INNER, -1.0), (topo.LIP_LOWER_INNER, 1.0)):
        for a, b in zip(contour[:-1], contour[1:]):
            m = max(2, int(np.ceil(np.linalg.norm(head.face_photo[a] - head.face_photo[b]) / LIP_LINE_STEP_M)))
            f, t, bary = along_edge(head.triangles, a, b, m)
            if f < 0:
                continue
            parents.append(np.full(m, f, np.int32))
            barys.append(bary)
            pa, pb = obs.landmarks_px[a, :2], obs.landmarks_px[b, :2]
            colours.append(_lip_colours(obs, pa + t[:, None] * (pb - pa), side))
            edge = head.face_photo[b] - head.face_photo[a]          # the edge's direction in the triangle's plane
            local = R[f].T @ edge
            angles.append(np.full(m, np.arctan2(local[1], local[0]), np.float32))
    if not parents:
        raise ValueError("the face triangles hold no inner-lip edge")
    parent = np.concatenate(parents)
    kk = k[parent]
    n = len(parent)
    half = 0.5 * np.concatenate(angles)
    quat = np.stack([np.cos(half), np.zeros(n), np.zeros(n), np.sin(half)], axis=1).astype(np.float32)
    sigma = np.float32([LIP_LINE_SIGMA_M[0], LIP_LINE_SIGMA_M[1], 0.3 * LIP_LINE_SIGMA_M[1]])
    return BoundGaussians(parent=parent, bary=np.concatenate(barys), offset=(LIP_LINE_OFFSET_M / kk).astype(np.float32),
                          local_quat=quat, local_scale=(sigma[None] / kk[:, None]).astype(np.float32),
                          colors=np.concatenate(colours).astype(np.float32), opacities=np.ones(n, np.float32),
                          binding=np.full(n, int(Binding.FACE_EDGE), np.int8))


def _lip_colours(obs: FaceObservation, pts_px: np.ndarray, side: float) -> np.ndarray:
    """float32 [N, 3]: the photo's mean colour over 3x3 pixels `LIP_SAMPLE_PX` beyond `pts_px` [N, 2] (x, y) on
    the contour, up (`side` = -1, the upper lip) or down (+1, the lower lip) in the image."""
    ix = np.round(pts_px[:, 0]).astype(int)
    iy = np.round(pts_px[:, 1] + side * LIP_SAMPLE_PX).astype(int)
    return block_mean(obs.image, np.clip(iy - 1, 0, obs.size - 1), np.clip(ix - 1, 0, obs.size - 1), 3)
