"""A person's own speech -> mouth model, learned from a talking video's audio and the rig coefficients tracked in it
(the person-specific audio -> expression stage of video mode; GaussianHeadTalk learns it with a transformer).

Method: a linear temporal model on top of the generic phonetic model. The phonetic model (phones -> visemes ->
Cohen & Massaro coarticulation, loudness gain, speech gating: `vasa3d.motion.mouth.phone_articulation`) gives 11
articulatory trajectories on the 10 ms feature grid; with the loudness (`AudioFeatures.openness`) and 12 MFCCs
(`vasa3d.motion.dtw_align.mfcc`) they are pooled to frames (`vasa3d.motion.visemes.frame_pool`) at each frame time
+ the visual lead + a window of offsets (`CONTEXT_S`, -0.12 to +0.12 s), one feature vector per frame
[D = offsets x inputs = 7 x 24]. Ridge regression maps the standardised features to each mouth coefficient the
tracker solved (`MOUTH_NAMES`); its penalty is chosen by blocked cross-validation over contiguous stretches of the
training video (`FOLDS`); each coefficient's excursions from rest are then scaled back to the person's range
(`variance_gain`). So the model learns the person's viseme shapes and amplitudes (how wide this person opens for
/a/, how much they round for /u/), their rest pose as the tracker sees it and their audio-visual lag, all in their
own head model's units, while the phones still come from the audio exactly as in the generic model (aligned with a
transcript, or recognised without one). The MFCCs carry what recognised phones get wrong. `vasa3d fit` keeps the
model only when its cross-validated predictions explain the training video's lip gap better than the generic
model's (`vasa3d.video_mode.learn_speech`).

Measured on held-out speech of the same person (`python -m eval speech-check`), against the generic model: see
docs/FACTS.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vasa3d.arkit import MOTION_BLENDSHAPES
from vasa3d.errors import InputError
from vasa3d.motion.features import AudioFeatures
from vasa3d.motion.visemes import ARTIC, frame_pool

MOUTH_NAMES: tuple[str, ...] = tuple(n for n in MOTION_BLENDSHAPES if n.startswith(("jaw", "mouth")))
"""The coefficients a person's model predicts (the generic model's jaw and mouth shapes)."""
INPUTS: tuple[str, ...] = ARTIC + ("loudness",) + tuple(f"mfcc{i}" for i in range(1, 13))
"""Per-offset inputs a model may use: the phonetic model's articulation (`vasa3d.motion.visemes.ARTIC`), the
loudness, and the MFCCs c1-c12 (`vasa3d.motion.dtw_align.mfcc`, normalised over the recording)."""
DEFAULT_INPUTS: tuple[str, ...] = INPUTS
"""The inputs `learn_speech_model` uses by default."""
CONTEXT_S: tuple[float, ...] = (-0.12, -0.08, -0.04, 0.0, 0.04, 0.08, 0.12)
"""Offsets (s) from each frame's time (+ the visual lead) at which the inputs are read: the temporal context."""
LEAD_S = 0.05                         # the generic model's visual lead (MotionConfig.visual_lead_s)
FOLDS = 5                             # contiguous cross-validation folds that choose the ridge penalty
PENALTIES = tuple(10.0 ** np.arange(-1.0, 5.01, 0.5))   # ridge penalties tried, x frames / 1000
MAX_GAIN = 2.0                        # largest variance-compensation gain (`variance_gain`)
MIN_TRAIN_FRAMES = 100                # fewer tracked frames than this: too little to learn from
MIN_SPEECH_S = 2.0                    # less audible speech than this: too little to learn from
FORMAT = 1                            # version of the saved arrays (`to_npz_dict`)


@dataclass
class PersonalSpeechModel:
    """A person's linear temporal speech -> mouth model (see the module docstring).

    Attributes:
        names: the K coefficients it predicts (ARKit names, `MOUTH_NAMES`).
        inputs: the P per-offset inputs (`INPUTS`); offsets_s: float32 [O] context offsets, seconds.
        lead_s: the visual lead (s) added to every frame time before the offsets.
        mean, scale: float32 [D] (D = O * P, offset-major) standardisation of the features.
        weights: float32 [D, K], bias: float32 [K]: coefficient = clip(standardised features @ weights + bias, 0, 1).
        penalty: float32 [K] the ridge penalty chosen (per coefficient; `learn_speech_model` shares one);
            frames: training frames; cv_corr: float32 [K] cross-validated correlation of each predicted
            coefficient with the tracked one on the training video (NaN where the tracked one does not vary).
        gain: float32 [K] the variance compensation folded into weights and bias (`variance_gain`).
    """

    names: tuple[str, ...]
    inputs: tuple[str, ...]
    offsets_s: np.ndarray
    lead_s: float
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    penalty: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    frames: int = 0
    cv_corr: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    gain: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))

    def features(self, segments, features: AudioFeatures, x16: np.ndarray, times_s: np.ndarray,
                 fps: float) -> np.ndarray:
        """float32 [T, D] standardised features at frame times times_s [T] (s) of a recording (16 kHz x16 [S]),
        its viseme segments [(start_s, end_s, class)] and its `AudioFeatures`."""
        raw = frame_features(segments, features, x16, times_s, fps, self.offsets_s, self.lead_s, self.inputs)
        return ((raw - self.mean) / self.scale).astype(np.float32)

    def mouth(self, segments, features: AudioFeatures, x16: np.ndarray, times_s: np.ndarray,
              fps: float) -> dict[str, np.ndarray]:
        """Mouth coefficients {name: [T] float32 in [0, 1]} at frame times times_s [T] (s) of the 16 kHz
        recording x16 [S]; the replacement of `vasa3d.motion.mouth.phone_mouth` (same segments and features)."""
        y = self.features(segments, features, x16, times_s, fps) @ self.weights + self.bias
        y = np.clip(y, 0.0, 1.0).astype(np.float32)
        return {n: y[:, k] for k, n in enumerate(self.names)}

    def summary(self) -> dict:
        """Plain-data figures (JSON): frames, penalty, mean cross-validated correlation and per name."""
        cv = {n: round(float(c), 3) for n, c in zip(self.names, self.cv_corr) if np.isfinite(c)}
        mean = float(np.mean(list(cv.values()))) if cv else float("nan")
        return {"kind": "linear-temporal", "frames": int(self.frames), "inputs": len(self.inputs),
                "penalty": float(self.penalty.max(initial=0.0)),
                "cv_corr_mean": None if np.isnan(mean) else round(mean, 3), "cv_corr": cv}

    def to_npz_dict(self, prefix: str = "speech_") -> dict[str, np.ndarray]:
        """The model as named arrays (for an avatar file); `from_npz_dict` reads them back."""
        return {prefix + "format": np.int32(FORMAT), prefix + "names": np.array(self.names, dtype=str),
                prefix + "inputs": np.array(self.inputs, dtype=str),
                prefix + "offsets_s": self.offsets_s.astype(np.float32), prefix + "lead_s": np.float32(self.lead_s),
                prefix + "mean": self.mean.astype(np.float32), prefix + "scale": self.scale.astype(np.float32),
                prefix + "weights": self.weights.astype(np.float32), prefix + "bias": self.bias.astype(np.float32),
                prefix + "penalty": self.penalty.astype(np.float32), prefix + "frames": np.int32(self.frames),
                prefix + "cv_corr": self.cv_corr.astype(np.float32),
                prefix + "gain": self.gain.astype(np.float32)}

    @classmethod
    def from_npz_dict(cls, data: dict, prefix: str = "speech_") -> "PersonalSpeechModel":
        """Read `to_npz_dict`'s arrays, strictly. Raises KeyError (an array missing) or ValueError (a wrong shape,
        unknown names or inputs, a format this release does not read, non-finite values)."""
        def get(key):
            if prefix + key not in data:
                raise KeyError(f"array '{prefix + key}' is missing")
            return np.asarray(data[prefix + key])

        if int(get("format")) != FORMAT:
            raise ValueError(f"speech model format {int(get('format'))} (this release reads {FORMAT})")
        names, inputs = tuple(str(n) for n in get("names")), tuple(str(n) for n in get("inputs"))
        unknown = [n for n in names if n not in MOTION_BLENDSHAPES] + [n for n in inputs if n not in INPUTS]
        if unknown:
            raise ValueError(f"the speech model names unknown coefficients or inputs {unknown}")
        offsets = get("offsets_s").astype(np.float32)
        d, k = len(offsets) * len(inputs), len(names)
        model = cls(names=names, inputs=inputs, offsets_s=offsets, lead_s=float(get("lead_s")),
                    mean=get("mean").astype(np.float32), scale=get("scale").astype(np.float32),
                    weights=get("weights").astype(np.float32), bias=get("bias").astype(np.float32),
                    penalty=get("penalty").astype(np.float32), frames=int(get("frames")),
                    cv_corr=get("cv_corr").astype(np.float32), gain=get("gain").astype(np.float32))
        shapes = {"mean": (d,), "scale": (d,), "weights": (d, k), "bias": (k,), "penalty": (k,), "cv_corr": (k,),
                  "gain": (k,)}
        for key, shape in shapes.items():
            if getattr(model, key).shape != shape:
                raise ValueError(f"array '{prefix + key}' has shape {list(getattr(model, key).shape)}, "
                                 f"expected {list(shape)}")
        arrays = [model.offsets_s, model.mean, model.scale, model.weights, model.bias]
        if not all(np.isfinite(a).all() for a in arrays) or not (model.scale > 0).all():
            raise ValueError("the speech model holds NaN, infinite or non-positive scale values")
        return model


def frame_features(segments, features: AudioFeatures, x16: np.ndarray, times_s: np.ndarray, fps: float, offsets_s,
                   lead_s: float, inputs: tuple[str, ...] = DEFAULT_INPUTS) -> np.ndarray:
    """float32 [T, O * P] raw features at frame times times_s [T]: the `inputs` (P of `INPUTS`) of the 16 kHz
    recording x16 [S] pooled over each frame's interval (`frame_pool`, closures kept) at times_s + lead_s + each
    of offsets_s [O], offset-major."""
    from vasa3d.motion.mouth import phone_articulation

    grid = [phone_articulation(segments, features), features.openness[:, None].astype(np.float64)]
    if any(n.startswith("mfcc") for n in inputs):
        from vasa3d.motion.dtw_align import mfcc

        grid.append(mfcc(x16)[:len(features.times_s)].astype(np.float64))
    else:
        grid.append(np.zeros((len(features.times_s), len(INPUTS) - len(ARTIC) - 1)))
    grid = np.concatenate(grid, axis=1)
    cols = [INPUTS.index(n) for n in inputs]
    blocks = [frame_pool(features.times_s, grid, times_s + lead_s + off, fps)[:, cols] for off in offsets_s]
    return np.concatenate(blocks, axis=1).astype(np.float32)


@dataclass
class Validation:
    """Cross-validated predictions on the training video (`fit_speech_model`): frames int [N] (indices of the
    usable tracked frames), personal [N, K] (each fold predicted by a model learned without it, variance-
    compensated as the final model is), generic [N, K] (the generic viseme mouth on the same phones) and tracked
    [N, K], columns in `MOUTH_NAMES` order."""

    frames: np.ndarray
    personal: np.ndarray
    generic: np.ndarray
    tracked: np.ndarray


def learn_speech_model(wave: np.ndarray, sr: int, tracked, found: np.ndarray | None = None,
                       transcript: str | None = None, language: str = "", phones=None,
                       inputs: tuple[str, ...] = DEFAULT_INPUTS) -> PersonalSpeechModel:
    """Learn a person's model from a recording and the motion tracked in the same video.

    Args:
        wave: [S] mono speech (float in [-1, 1] or integer PCM) starting at the tracked video's first frame;
            sr: its rate, Hz.
        tracked: the `MotionSequence` tracked in the video (frame t at t / tracked.fps s; coefficients missing from
            it count as 0).
        found: bool [T], frames with a face (default all); the rest are left out of the fit.
        transcript, language, phones: as `motion_from_audio` (without any the phones are recognised; use the same
            source as at speaking time where you can).
        inputs: the per-offset inputs (of `INPUTS`).
    Returns:
        the `PersonalSpeechModel` (penalty by blocked cross-validation, then refitted on every frame).
    Raises:
        InputError: fewer than MIN_TRAIN_FRAMES usable frames or under MIN_SPEECH_S of audible speech.
    """
    return fit_speech_model(wave, sr, tracked, found, transcript, language, phones, inputs)[0]


def fit_speech_model(wave: np.ndarray, sr: int, tracked, found: np.ndarray | None = None,
                     transcript: str | None = None, language: str = "", phones=None,
                     inputs: tuple[str, ...] = DEFAULT_INPUTS) -> tuple[PersonalSpeechModel, Validation]:
    """`learn_speech_model`'s model and its `Validation` (to decide whether it beats the generic model)."""
    X, Y, silent, generic, frames = _training_data(wave, sr, tracked, found, transcript, language, phones, inputs)
    mean, scale = X.mean(0), X.std(0)
    scale = np.where(scale > 1e-6, scale, 1.0)
    Xs = (X - mean) / scale
    penalty, cv_pred = choose_penalty(Xs, Y)
    W, b = ridge(Xs, Y, penalty)
    gain, rest = variance_gain(cv_pred, Y, silent)
    model = PersonalSpeechModel(names=MOUTH_NAMES, inputs=tuple(inputs), offsets_s=np.float32(CONTEXT_S),
                                lead_s=LEAD_S, mean=mean.astype(np.float32), scale=scale.astype(np.float32),
                                weights=(W * gain).astype(np.float32),
                                bias=(rest + gain * (b - rest)).astype(np.float32),
                                penalty=penalty.astype(np.float32), frames=int(len(Y)),
                                cv_corr=columnwise_corr(cv_pred, Y).astype(np.float32), gain=gain.astype(np.float32))
    personal = np.clip(rest + gain * (cv_pred - rest), 0.0, 1.0)
    return model, Validation(frames=frames, personal=personal, generic=generic, tracked=Y)


def _training_data(wave, sr, tracked, found, transcript, language, phones, inputs):
    """(raw features X [N, D], tracked coefficients Y [N, K], silent bool [N], the generic model's coefficients
    [N, K], frame indices int [N]) of the usable frames (with a face, covered by the audio) of a recording and its
    tracked motion; InputError when they are too few (see `learn_speech_model`)."""
    from vasa3d.motion.features import HOP_S, compute_features, prepare_wave
    from vasa3d.motion.model import find_phones
    from vasa3d.motion.mouth import phone_mouth
    from vasa3d.motion.visemes import viseme_segments

    T = tracked.num_frames
    times = np.arange(T) / tracked.fps
    keep = np.ones(T, bool) if found is None else np.asarray(found, bool).copy()
    x16 = prepare_wave(wave, sr)
    feats = compute_features(x16)
    keep &= times <= feats.times_s[-1]                                  # frames the audio covers
    speech_s = (feats.openness > 0).sum() * HOP_S
    if keep.sum() < MIN_TRAIN_FRAMES or speech_s < MIN_SPEECH_S:
        raise InputError(f"too little to learn the person's speech from ({int(keep.sum())} tracked frames, "
                         f"{speech_s:.1f} s of speech; needs {MIN_TRAIN_FRAMES} frames and {MIN_SPEECH_S:g} s)")
    found_phones, _ = find_phones(x16, feats, transcript, phones, "auto", language)
    segments = viseme_segments(found_phones)
    X = frame_features(segments, feats, x16, times, tracked.fps, np.float32(CONTEXT_S), LEAD_S, inputs)
    Y = np.stack([tracked.coeff(n) if n in tracked.names else np.zeros(T, np.float32) for n in MOUTH_NAMES], axis=1)
    generic = phone_mouth(segments, feats, times, tracked.fps, LEAD_S)
    G = np.stack([generic[n] for n in MOUTH_NAMES], axis=1)
    silent = np.interp(times, feats.times_s, feats.openness) <= 0
    frames = np.flatnonzero(keep)
    return (X[keep].astype(np.float64), Y[keep].astype(np.float64), silent[keep], G[keep].astype(np.float64),
            frames)


def variance_gain(cv_pred: np.ndarray, Y: np.ndarray, silent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(gain [K] in [1, MAX_GAIN], rest [K]): per coefficient, the ratio of the tracked spread to the
    cross-validated predictions' spread, and the predictions' median in silent frames (their mean without any).

    A regression predicts the expected shape, whose spread shrinks with its uncertainty: scaled by itself the
    mouth mumbles. Scaling each prediction's excursions from rest by this gain restores the person's range, as
    global-variance compensation does for the over-smoothed trajectories of statistical speech synthesis (Toda &
    Tokuda 2007, "A speech parameter generation algorithm considering global variance for HMM-based speech
    synthesis", IEICE Trans. Inf. & Syst. E90-D(5)); the cap keeps noise from being blown up.
    """
    gain = np.clip(Y.std(0) / np.maximum(cv_pred.std(0), 1e-6), 1.0, MAX_GAIN)
    rest = np.median(cv_pred[silent], axis=0) if silent.any() else cv_pred.mean(0)
    return gain, rest


def ridge(X: np.ndarray, Y: np.ndarray, penalty) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression of Y [N, K] on X [N, D] with an unpenalised intercept: (W [D, K], b [K]), column k
    minimising |Y_k - X W_k - b_k|^2 + penalty_k * N / 1000 * |W_k|^2 (penalty: a number or [K]; in units of a
    thousand frames)."""
    xm, ym = X.mean(0), Y.mean(0)
    Xc, Yc = X - xm, Y - ym
    penalty = np.broadcast_to(np.asarray(penalty, np.float64), (Y.shape[1],))
    gram, rhs = Xc.T @ Xc, Xc.T @ Yc
    W = np.zeros((X.shape[1], Y.shape[1]))
    for value in np.unique(penalty):
        cols = penalty == value
        W[:, cols] = np.linalg.solve(gram + value * len(X) / 1000.0 * np.eye(X.shape[1]), rhs[:, cols])
    return W, ym - xm @ W


def choose_penalty(X: np.ndarray, Y: np.ndarray, folds: int = FOLDS) -> tuple[np.ndarray, np.ndarray]:
    """The ridge penalty of `PENALTIES` with the least cross-validated error over `folds` contiguous blocks of the
    frames (each coefficient's mean squared error over its variance, summed: every mouth shape counts alike),
    as float64 [K] (one value shared by the coefficients), and its held-out predictions [N, K] (clipped to
    [0, 1])."""
    n = len(X)
    edges = np.linspace(0, n, folds + 1).round().astype(int)
    var = np.maximum(Y.var(0), 1e-6)
    best, best_err, best_pred = PENALTIES[0], np.inf, None
    for penalty in PENALTIES:
        pred = np.zeros_like(Y)
        for a, b in zip(edges[:-1], edges[1:]):
            train = np.r_[0:a, b:n]
            W, c = ridge(X[train], Y[train], penalty)
            pred[a:b] = np.clip(X[a:b] @ W + c, 0.0, 1.0)
        err = (((pred - Y) ** 2).mean(0) / var).sum()
        if err < best_err:
            best, best_err, best_pred = float(penalty), err, pred
    return np.full(Y.shape[1], best), best_pred


def columnwise_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """float64 [K] Pearson correlation of the columns of a and b [N, K] (NaN where either does not vary)."""
    a, b = a - a.mean(0), b - b.mean(0)
    den = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 1e-12, (a * b).sum(0) / np.where(den > 0, den, 1.0), np.nan)
