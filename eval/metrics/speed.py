"""render_fps, real_time_factor, avatar_build_s: how fast a method made its video (this machine, this run).

Definitions: render_fps = frames / seconds spent rendering and encoding them; real_time_factor = total seconds
from inputs to finished video / seconds of audio (< 1 is faster than real time); avatar_build_s = seconds to build
the avatar from the photo (face analysis, head model, Gaussians). Taken from the method's own timings (vasa3d:
`TalkResult.timings`; warp2d: its warping and encoding only, timed by the suite, so its real_time_factor and
avatar_build_s are null). Null for methods that do not render (static, groundtruth,
external videos). Wall-clock time: other processes on the machine and the first call's kernel loading (numba) count.
Source: the speed figures the VASA-3D / Gaussian-avatar papers report (FPS, latency).
"""

from __future__ import annotations

from eval.metrics import Score


def speed(timings: dict[str, float] | None, num_frames: int, duration_s: float) -> dict[str, Score]:
    """{render_fps, real_time_factor, avatar_build_s} from timings with keys avatar_s, render_and_encode_s, total_s."""
    names = ("render_fps", "real_time_factor", "avatar_build_s")
    if not timings:
        return {n: Score.null("not a renderer (no timings)") for n in names}
    out = {}
    r = timings.get("render_and_encode_s")
    out["render_fps"] = Score.of(num_frames / r) if r else Score.null("no render timing")
    tot = timings.get("total_s")
    out["real_time_factor"] = (Score.of(tot / duration_s) if tot and duration_s > 0
                               else Score.null("end-to-end time not measured for this method"))
    a = timings.get("avatar_s")
    out["avatar_build_s"] = Score.of(a) if a is not None else Score.null("builds no avatar of its own")
    return out
