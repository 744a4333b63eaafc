"""Forced alignment of a transcript in any language espeak-ng speaks: synthesise the transcript, then warp the
synthetic voice onto the recording with dynamic time warping (DTW) over MFCCs and carry espeak's exact phone times
across the warp.

Method: the synthesis-and-DTW aligner of aeneas (A. Pettarin, https://github.com/readbeyond/aeneas: espeak
synthesis, 12 MFCCs without c0, DTW) with per-utterance cepstral mean and variance normalisation (so the robot
voice and the speaker's voice meet half-way) and the first and last speech of both signals pinned together (the
recording's leading and trailing silences stay "sil"). MFCCs: 26 mel bands 100-7600 Hz over the 25 ms / 10 ms
frames of `vasa3d.motion.features` (Davis & Mermelstein 1980). DTW: Sakoe & Chiba 1978, symmetric steps
(1,1), (1,0), (0,1); long inputs are compared at a coarser hop so that the cost matrix stays under MAX_CELLS.
"""

from __future__ import annotations

import numpy as np

from vasa3d.motion.features import FEATURE_SR, HOP_S, WIN_S, compute_features, frame_signal, prepare_wave
from vasa3d.motion.phones import Phone

NUM_MELS = 26
NUM_CEPS = 12
MAX_CELLS = 25_000_000
"""Largest DTW cost matrix (cells); above it both feature sequences are decimated by the same factor."""


def mfcc(x16: np.ndarray) -> np.ndarray:
    """[F, NUM_CEPS] float32 MFCCs c1..c12 of 16 kHz audio on the `vasa3d.motion.features` frame grid,
    normalised per coefficient to zero mean and unit variance over the utterance."""
    from scipy.fft import dct

    win, hop = int(WIN_S * FEATURE_SR), int(HOP_S * FEATURE_SR)
    frames = frame_signal(np.asarray(x16, np.float32), win, hop)
    spec = np.abs(np.fft.rfft(frames * np.hamming(win), n=512, axis=1)) ** 2
    logmel = np.log(spec @ _mel_bank().T + 1e-8)
    c = dct(logmel, type=2, norm="ortho", axis=1)[:, 1:NUM_CEPS + 1]
    return ((c - c.mean(0)) / (c.std(0) + 1e-6)).astype(np.float32)


def _mel_bank() -> np.ndarray:
    """[NUM_MELS, 257] triangular mel filters (HTK mel scale) for a 512-point FFT at 16 kHz."""
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    edges = 700.0 * (10 ** (np.linspace(mel(100.0), mel(7600.0), NUM_MELS + 2) / 2595.0) - 1.0)
    freqs = np.fft.rfftfreq(512, 1.0 / FEATURE_SR)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    return np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))


def dtw_path(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Optimal monotonic alignment of feature sequences a [N, D] and b [M, D] (Euclidean frame cost).

    Returns int [L, 2] pairs (i, j) from (0, 0) to (N-1, M-1). O(N M) time and memory (the caller keeps N M
    under MAX_CELLS).
    """
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    cost = np.sqrt(np.maximum(0.0, (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T))
    return _dtw_kernel()(cost.astype(np.float32))


def _dtw_kernel():
    import numba

    @numba.njit(cache=True)
    def kernel(cost):
        n, m = cost.shape
        acc = np.full((n + 1, m + 1), np.inf, np.float32)
        acc[0, 0] = 0.0
        for i in range(1, n + 1):
            for j in range(1, m + 1):
                acc[i, j] = cost[i - 1, j - 1] + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
        path = np.empty((n + m, 2), np.int64)
        i, j, k = n, m, 0
        while i > 0 and j > 0:
            path[k, 0], path[k, 1] = i - 1, j - 1
            k += 1
            d, u, left = acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1]
            if d <= u and d <= left:
                i, j = i - 1, j - 1
            elif u <= left:
                i -= 1
            else:
                j -= 1
        return path[:k][::-1].copy()

    return kernel


def _speech_span(x16: np.ndarray) -> tuple[int, int]:
    """(first, last + 1) feature frames with sound (openness > 0), or the whole signal if none."""
    voiced = np.flatnonzero(compute_features(x16).openness > 0)
    n = len(x16) // int(HOP_S * FEATURE_SR) + 1
    return (int(voiced[0]), int(voiced[-1]) + 1) if len(voiced) else (0, n)


def align_by_synthesis(x16: np.ndarray, transcript: str, language: str) -> list[Phone] | None:
    """Phones (espeak mnemonics, "sil" for pauses) of 16 kHz speech x16 [S] float32 given its transcript in
    `language` (an espeak-ng voice code: "fr", "es", "de", "cmn", ...), by DTW against espeak's synthesis of the
    transcript (see the module docstring). Returns None when the transcript has nothing to say or either signal
    has no speech. Raises InputError for a voice espeak-ng does not have (from `synthesize_speech`).
    """
    from vasa3d.io.tts import synthesize_speech

    if not transcript or not transcript.strip() or len(x16) < FEATURE_SR // 10:
        return None
    speech = synthesize_speech(transcript, voice=language)
    if not speech.phones:
        return None
    syn = prepare_wave(speech.wave, speech.sr)
    (s0, s1), (r0, r1) = _speech_span(syn), _speech_span(x16)
    fs, fr = mfcc(syn)[s0:s1], mfcc(x16)[r0:r1]
    if len(fs) < 2 or len(fr) < 2:
        return None
    step = max(1, int(np.ceil(np.sqrt(len(fs) * len(fr) / MAX_CELLS))))
    path = dtw_path(fs[::step], fr[::step]) * step
    warp_syn = (path[:, 0] + s0) * HOP_S
    warp_rec = (path[:, 1] + r0) * HOP_S
    # for each synthetic time, the mean recording time it maps to (the path is monotonic in both)
    keys, first = np.unique(warp_syn, return_index=True)
    means = np.add.reduceat(warp_rec, first) / np.diff(np.append(first, len(warp_rec)))
    to_rec = lambda t: float(np.interp(t, keys, means))  # noqa: E731
    end = len(x16) / FEATURE_SR
    out = []
    for p in speech.phones:
        a, b = to_rec(p.start_s), to_rec(p.end_s)
        if p.start_s <= keys[0]:
            a = 0.0 if p.phone == "sil" else a
        if p.end_s >= keys[-1] and p.phone == "sil":
            b = end
        out.append(Phone(a, max(a, b), p.phone))
    if out[0].start_s > 0.0:
        out.insert(0, Phone(0.0, out[0].start_s, "sil"))
    if out[-1].end_s < end:
        out.append(Phone(out[-1].end_s, end, "sil"))
    return out
