"""The `warp2d` baseline: the photo warped in 2D by the face mesh under the same motion as vasa3d.

What 3D adds is measured against this. Per frame:
1. the avatar's face mesh (468 vertices, metres, head frame) is deformed by the motion's rig coefficients
   (`avatar.head.rig.deform`), turned about the neck pivot by the motion's head rotation and moved by its
   translation (the rigid part of `vasa3d.avatar.pose`), and projected with the photo's camera
   (`avatar.K`, `avatar.T_cam_from_head`), giving posed 2D points; the rest mesh gives the rest points;
2. a ring of 20 points at 1.4x the face's radius follows the 2D similarity (Umeyama 1991) of the face
   oval (so hair and neck move with the head), and 20 points on the frame border stay fixed;
3. the Delaunay triangulation of the rest points (face + ring + border) is kept for every frame, and the photo crop
   is warped piecewise-affinely from rest to posed triangles (inverse mapping per pixel, bilinear, OpenCV remap).
No mouth interior, eyeball or gaze: the lips stretch over what the photo shows, the eyes move only with the lids.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

RING_POINTS = 20
RING_SCALE = 1.4
BORDER_POINTS_PER_SIDE = 5
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
"""MediaPipe face-oval landmarks (the silhouette of the face mesh)."""


def _project(points_head: np.ndarray, K: np.ndarray, T_cam_from_head: np.ndarray) -> np.ndarray:
    """[N, 3] head-frame metres -> ([N, 2] pixels in continuous coordinates, [N] camera depth)."""
    T = np.asarray(T_cam_from_head, np.float64)
    cam = points_head.astype(np.float64) @ T[:3, :3].T + T[:3, 3]
    uv = cam @ np.asarray(K, np.float64).T
    return uv[:, :2] / uv[:, 2:3], cam[:, 2]


def posed_face(avatar, motion, t: int) -> np.ndarray:
    """float32 [468, 3] face-mesh vertices of frame t in the head frame at rest (metres): rig, then head pose."""
    from vasa3d.avatar.quat import matrix_from_axis_angle

    head = avatar.head
    v = head.rig.deform(head.face_rest, motion.names, motion.coeffs[t]).astype(np.float64)
    R = matrix_from_axis_angle(np.asarray(motion.head_rotation[t], np.float64))
    pivot = np.asarray(head.neck_pivot, np.float64)
    return ((v - pivot) @ np.asarray(R, np.float64).T + pivot + motion.head_translation[t]).astype(np.float32)


class FaceWarper:
    """Piecewise-affine warp of a photo crop by moving face-mesh points (see the module docstring).

    photo_u8: uint8 [size, size, 3] the crop; rest_px: float [468, 2] rest positions (continuous pixel coords at
    `size`).
    """

    def __init__(self, photo_u8: np.ndarray, rest_px: np.ndarray):
        from scipy.spatial import Delaunay

        self.photo = np.ascontiguousarray(photo_u8)
        self.size = photo_u8.shape[0]
        self.rest_face = np.asarray(rest_px, np.float64)
        centre = self.rest_face[list(FACE_OVAL)].mean(0)
        radius = RING_SCALE * np.linalg.norm(self.rest_face[list(FACE_OVAL)] - centre, axis=1).max()
        ang = np.linspace(0, 2 * np.pi, RING_POINTS, endpoint=False)
        self.rest_ring = centre + radius * np.stack([np.cos(ang), np.sin(ang)], 1)
        s = np.linspace(0, self.size, BORDER_POINTS_PER_SIDE)
        lo, hi = np.zeros_like(s) - 1.0, np.full_like(s, self.size + 1.0)
        border = np.concatenate([np.stack([s, lo], 1), np.stack([s, hi], 1), np.stack([lo, s], 1)[1:-1],
                                 np.stack([hi, s], 1)[1:-1]])
        self.border = border
        rest = np.concatenate([self.rest_face, self.rest_ring, border])
        self.triangles = Delaunay(rest).simplices.astype(np.int64)
        self.rest_all = rest
        yy, xx = np.mgrid[0:self.size, 0:self.size]
        self._pix = np.stack([xx.ravel(), yy.ravel(), np.ones(xx.size)], 0).astype(np.float64)

    def posed_points(self, face_px: np.ndarray) -> np.ndarray:
        """All points [468 + ring + border, 2] for posed face points face_px [468, 2]."""
        from eval.tracking import procrustes

        oval = list(FACE_OVAL)
        s, R, c = procrustes(self.rest_face[oval], face_px[oval])
        ring = s * self.rest_ring @ R.T + c
        return np.concatenate([face_px, ring, self.border])

    def warp(self, face_px: np.ndarray, depth: np.ndarray | None = None) -> np.ndarray:
        """uint8 [size, size, 3]: the photo with its face points moved to face_px [468, 2]. depth [468]: camera
        depth of the posed face points (nearer triangles win where triangles overlap)."""
        import cv2

        dst = self.posed_points(np.asarray(face_px, np.float64)) - 0.5     # OpenCV pixel centres
        src = self.rest_all - 0.5
        tri = self.triangles
        D = np.concatenate([dst[tri].transpose(0, 2, 1), np.ones((len(tri), 1, 3))], 1)   # [K, 3, 3]
        S = src[tri].transpose(0, 2, 1)                                                      # [K, 2, 3]
        M = S @ np.linalg.pinv(D)                                                            # dst -> src
        ids = np.full((self.size, self.size), -1, np.int32)
        order = np.arange(len(tri))
        if depth is not None:
            z = np.concatenate([depth, np.full(len(dst) - len(depth), np.inf)])
            order = np.argsort(-np.nan_to_num(z[tri].mean(1), posinf=1e9))
        pts = np.round(dst[tri] * 16).astype(np.int32)
        for k in order:
            cv2.fillConvexPoly(ids, pts[k], int(k), lineType=cv2.LINE_8, shift=4)
        flat = ids.ravel()
        inside = flat >= 0
        mx = self._pix[0].copy()
        my = self._pix[1].copy()
        Mk = M[flat[inside]]
        p = self._pix[:, inside]
        mx[inside] = np.einsum("nj,jn->n", Mk[:, 0, :], p)
        my[inside] = np.einsum("nj,jn->n", Mk[:, 1, :], p)
        shape = (self.size, self.size)
        return cv2.remap(self.photo, mx.reshape(shape).astype(np.float32), my.reshape(shape).astype(np.float32),
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def warp_frames(photo: np.ndarray, avatar, motion, size: int) -> Iterator[np.ndarray]:
    """Frames of the warp2d baseline.

    Args:
        photo: float32 [S, S, 3] in [0, 1], the square head crop the avatar was built from (S = avatar.size;
            `vasa3d.face.analyze_face(...).image`); avatar: its `Avatar`; motion: a `MotionSequence`;
        size: output side in pixels.
    Yields:
        uint8 [size, size, 3] RGB frames, one per motion frame.
    """
    import cv2

    scale = size / avatar.size
    crop = cv2.resize(np.clip(photo * 255 + 0.5, 0, 255).astype(np.uint8), (size, size), interpolation=cv2.INTER_AREA)
    rest_px, _ = _project(avatar.head.face_rest, avatar.K, avatar.T_cam_from_head)
    warper = FaceWarper(crop, rest_px * scale)
    for t in range(motion.num_frames):
        px, depth = _project(posed_face(avatar, motion, t), avatar.K, avatar.T_cam_from_head)
        yield warper.warp(px * scale, depth)
