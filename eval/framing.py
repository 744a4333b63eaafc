"""Does a rendered frame show only what the photo contains? Feature matching between the frame and the photo.

Method: SIFT keypoints (OpenCV; Lowe 2004) in both images, Lowe's ratio test (0.75), a similarity transform (rotation,
uniform scale, translation) from the frame to the photo by RANSAC (`cv2.estimateAffinePartial2D`), then the four
frame corners mapped into the photo: the overhang is how far the farthest corner lies past the photo's bounds, as a
share of the photo's width (0 when all four lie inside).
"""

from __future__ import annotations

import numpy as np

RATIO_TEST = 0.75
RANSAC_PX = 3.0          # inlier threshold, in photo pixels
MIN_INLIERS = 12


def frame_overhang(frame_u8: np.ndarray, photo_u8: np.ndarray) -> float | None:
    """Overhang of `frame_u8` [h, w, 3] uint8 RGB past `photo_u8` [H, W, 3] uint8 RGB, as a share of W (see the
    module docstring); None when fewer than `MIN_INLIERS` matches support a similarity transform."""
    M = similarity_to_photo(frame_u8, photo_u8)
    if M is None:
        return None
    h, w = frame_u8.shape[:2]
    H, W = photo_u8.shape[:2]
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], np.float64)
    mapped = corners @ M[:, :2].T + M[:, 2]
    past = np.maximum.reduce([-mapped[:, 0], mapped[:, 0] - W, -mapped[:, 1], mapped[:, 1] - H, np.zeros(4)])
    return float(past.max() / W)


def similarity_to_photo(frame_u8: np.ndarray, photo_u8: np.ndarray) -> np.ndarray | None:
    """float64 [2, 3]: the similarity transform mapping frame pixels to photo pixels (None: too few matches)."""
    import cv2

    sift = cv2.SIFT_create()
    grey = lambda im: cv2.cvtColor(np.ascontiguousarray(im), cv2.COLOR_RGB2GRAY)  # noqa: E731
    kf, df = sift.detectAndCompute(grey(frame_u8), None)
    kp, dp = sift.detectAndCompute(grey(photo_u8), None)
    if df is None or dp is None or len(kf) < 2 or len(kp) < 2:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(df, dp, k=2)
    good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < RATIO_TEST * n.distance]
    if len(good) < MIN_INLIERS:
        return None
    src = np.float32([kf[m.queryIdx].pt for m in good])
    dst = np.float32([kp[m.trainIdx].pt for m in good])
    M, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX)
    if M is None or inliers is None or int(inliers.sum()) < MIN_INLIERS:
        return None
    return M
