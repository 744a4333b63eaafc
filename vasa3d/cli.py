"""The `vasa3d` command: talk, build, render, motion, pose, expressions, say, bench, doctor.

Bad input prints one line `error: ...` and exits with code 2; nothing is written then. Options and paths are
checked (`vasa3d.validate`) before any face analysis, motion or rendering starts. MediaPipe / TensorFlow Lite
native log lines are dropped from stderr unless `--verbose` is given.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

from vasa3d.config import PipelineConfig
from vasa3d.errors import InputError

_DEFAULTS = PipelineConfig()
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
TALK_EXAMPLES = """examples:
  vasa3d talk portrait.jpg speech.wav -o talk.mp4
  vasa3d talk portrait.jpg speech.wav -o orbit.mp4 --camera-path orbit --yaw-deg 15 --size 384 \\
      --transcript "the words spoken" --expression-scale 1.2"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows each option's default (when it has one) after its help text; keeps the examples' line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.option_strings and not any(action.default is v for v in (None, False, argparse.SUPPRESS)):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """argparse with our help format, and a usage mistake reported as one `error: ...` line (exit 2)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def _add_render_options(p: argparse.ArgumentParser, fps_default: float | None) -> None:
    from vasa3d import validate as v

    r = _DEFAULTS.render
    p.add_argument("--yaw-deg", type=float, default=r.yaw_deg,
                   help=f"camera yaw about the head, degrees, within +-{v.MAX_YAW_DEG:g} (+ = camera to the right)")
    p.add_argument("--pitch-deg", type=float, default=r.pitch_deg,
                   help=f"camera pitch about the head, degrees, within +-{v.MAX_PITCH_DEG:g} (+ = from above)")
    p.add_argument("--camera-path", choices=v.CAMERA_PATHS, default=r.camera_path,
                   help="fixed viewpoint, a 60-degree orbit every 8 s, or a gentle 10-degree sway")
    p.add_argument("--size", type=int, default=r.size,
                   help=f"video side in pixels, even, {v.MIN_SIZE_PX}-{v.MAX_SIZE_PX}")
    p.add_argument("--fps", type=float, default=fps_default,
                   help=f"video frame rate, {v.MIN_FPS:g}-{v.MAX_FPS:g}"
                   + ("" if fps_default is not None else " (default: the motion file's own)"))
    p.add_argument("--backend", choices=v.BACKENDS, default=r.backend,
                   help="rasterizer: numba (CPU), gsplat (CUDA), torch (slow reference); auto picks")
    p.add_argument("--device", default=r.device,
                   help="where posing and rasterizing run: auto (a CUDA GPU with gsplat when present), cpu, cuda")


def _add_style_options(p) -> None:
    """--emotion, --emotion-intensity, --head-motion (defaults from MotionConfig)."""
    from vasa3d import validate as v
    from vasa3d.motion.emotion import EMOTIONS, HEAD_MOTION_GAIN

    m = _DEFAULTS.motion
    p.add_argument("--emotion", choices=tuple(EMOTIONS), default=m.emotion,
                   help="expression under the speech (ARKit preset)")
    p.add_argument("--emotion-intensity", type=float, default=m.emotion_intensity,
                   help=f"strength of the emotion, 0-{v.MAX_EMOTION_INTENSITY:g}")
    p.add_argument("--head-motion", choices=tuple(HEAD_MOTION_GAIN), default=m.head_motion,
                   help="head motion style: still (the photo's pose), natural, lively")


def _parser() -> argparse.ArgumentParser:
    from vasa3d import validate as v

    ap = _Parser(prog="vasa3d", description="One photo + speech -> a talking 3D Gaussian head.")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)
    m = _DEFAULTS.motion
    p = sub.add_parser("talk", help="portrait + speech -> talking-head mp4", epilog=TALK_EXAMPLES,
                       description="Build a 3D Gaussian head from one portrait and make it speak the audio.")
    p.add_argument("image", help="portrait photo (JPEG, PNG, WebP, BMP, TIFF), one face, at least 32 px a side")
    p.add_argument("audio", help="speech (wav, mp3, m4a, flac, ogg, or a video's sound), 0.1 s to 10 min")
    p.add_argument("-o", "--output", required=True, help="video to write (.mp4, H.264 + AAC); its folder must exist")
    p.add_argument("--transcript", help="the words spoken, or a .txt file holding them (improves lip sync)")
    p.add_argument("--expression-scale", type=float, default=m.expression_scale,
                   help=f"strength of mouth and face motion, 0-{v.MAX_MOTION_SCALE:g} (0 = still)")
    p.add_argument("--head-motion-scale", type=float, default=m.head_motion_scale,
                   help=f"strength of nods and sway, 0-{v.MAX_MOTION_SCALE:g} (0 = still)")
    p.add_argument("--seed", type=int, default=m.seed,
                   help="random seed of blinks and head motion (same seed, same video)")
    p.add_argument("--head-pose", metavar="CSV_OR_VIDEO",
                   help="drive the head by this pose track instead of the speech: an ARKit CSV (HeadYaw, HeadPitch, "
                        "HeadRoll) or a video of a face")
    p.add_argument("--stream", action="store_true",
                   help="write a fragmented mp4 that plays while it is made, at OUT.partial.mp4 (renamed to OUT "
                        "when complete)")
    p.add_argument("--language", default=m.language,
                   help="espeak-ng code of the speech's language (fr, es, de, cmn, ...); aligns a transcript in it")
    p.add_argument("--generic-speech", action="store_true",
                   help="an avatar fitted to a video (vasa3d fit) speaks with its person's own mouth model; this "
                        "uses the generic one instead")
    _add_style_options(p)
    _add_render_options(p, _DEFAULTS.render.fps)
    p = sub.add_parser("build", help="portrait -> avatar .npz (and a 3DGS .ply)")
    p.add_argument("image", help="portrait photo")
    p.add_argument("-o", "--output", required=True, help="avatar file to write (.npz)")
    p.add_argument("--ply", help="also export the Gaussians as a standard 3DGS .ply")
    p = sub.add_parser("render", help="avatar .npz + motion .npz -> mp4")
    p.add_argument("avatar", help="avatar file from `vasa3d build` (.npz)")
    p.add_argument("motion", help="motion file from `vasa3d motion` (.npz or .json)")
    p.add_argument("-o", "--output", required=True, help="video to write (.mp4)")
    p.add_argument("--audio", help="speech to mux into the video")
    _add_render_options(p, None)
    p = sub.add_parser("motion", help="speech -> motion .npz/.json (ARKit coefficients, head pose, gaze)")
    p.add_argument("audio", help="speech file")
    p.add_argument("-o", "--output", required=True, help="motion file to write (.npz or .json)")
    p.add_argument("--transcript", help="the words spoken, or a .txt file holding them")
    p.add_argument("--plot", help="also write a PNG plot of waveform, phones and coefficients")
    p.add_argument("--seed", type=int, default=m.seed, help="random seed of blinks and head motion")
    p.add_argument("--language", default=m.language, help="espeak-ng code of the speech's language (fr, es, ...)")
    p.add_argument("--head-pose", metavar="CSV_OR_VIDEO",
                   help="take the head pose from an ARKit CSV or a video of a face instead of the speech")
    _add_style_options(p)
    p = sub.add_parser("pose", help="render one frame of the avatar with chosen blendshapes and viewpoint")
    p.add_argument("image", help="portrait photo")
    p.add_argument("-o", "--output", required=True, help="image to write (.png, .jpg, .webp, .bmp, .tif)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="ARKit blendshape coefficient")
    p.add_argument("--yaw-deg", type=float, default=0.0, help=f"camera yaw, degrees, within +-{v.MAX_YAW_DEG:g}")
    p.add_argument("--pitch-deg", type=float, default=0.0,
                   help=f"camera pitch, degrees, within +-{v.MAX_PITCH_DEG:g}")
    p.add_argument("--background", help="R,G,B (0-255) behind the head instead of the photo's background")
    p.add_argument("--size", type=int, default=_DEFAULTS.render.size, help="image side in pixels")
    p = sub.add_parser("expressions", help="contact sheet of every supported blendshape from yaw -30, 0, +30")
    p.add_argument("image", help="portrait photo")
    p.add_argument("-o", "--output", required=True, help="image to write (.png, .jpg, ...)")
    p.add_argument("--tile", type=int, default=160, help="side of one render, pixels")
    p = sub.add_parser("say", help="text -> speech wav (offline espeak-ng) with phone timings")
    p.add_argument("text", help="the words to speak")
    p.add_argument("-o", "--output", required=True, help="wav to write (a .phones.json sidecar goes beside it)")
    p.add_argument("--voice", default="en-us", help="espeak-ng voice")
    p.add_argument("--language", help="espeak-ng language code (fr, es, de, cmn, ...); the voice, if given")
    p = sub.add_parser("bench", help="benchmarks; print JSON")
    bsub = p.add_subparsers(dest="bench", required=True, parser_class=_Parser)
    b = bsub.add_parser("render", help="rasterizer speed")
    b.add_argument("--n", type=int, default=50000, help="number of Gaussians")
    b.add_argument("--size", type=int, default=512, help="image side in pixels")
    b.add_argument("--backward", action="store_true", help="time forward + backward")
    b.add_argument("--backend", default="auto", help="rasterizer backend")
    b.add_argument("--repeats", type=int, default=20, help="timed calls")
    b = bsub.add_parser("fit", help="tracking and fitting time and memory on a talking video")
    b.add_argument("video", nargs="?", help="talking video (default: ../shared/data's GRID video)")
    b.add_argument("--start", type=float, default=0.0, help="segment start, seconds")
    b.add_argument("--end", type=float, default=42.0, help="segment end, seconds")
    b.add_argument("--steps", type=int, default=_DEFAULTS.fit.steps, help="fitting steps")
    b.add_argument("--max-frames", type=int, default=_DEFAULTS.fit.max_frames, help="frames the fit uses")
    b = bsub.add_parser("pipeline", help="end-to-end speed of talk: avatar, motion, first frame, render, encode")
    from vasa3d.pipeline_bench import add_arguments

    add_arguments(b)
    b = bsub.add_parser("pose", help="posing speed, parity with the NumPy reference, gradcheck")
    b.add_argument("--n-frames", type=int, default=100, help="frames of random coefficients and head poses")
    b.add_argument("--device", default="cpu", help="cpu or cuda")
    b.add_argument("--image", help="portrait to build the avatar from (default: the built-in example portrait)")
    b.add_argument("--avatar", help="an avatar .npz to pose instead")
    _add_video_mode_commands(sub)
    p = sub.add_parser("batch", help="many videos from a jobs CSV (one row per portrait/audio/options), optionally on Ray")
    p.add_argument("jobs", help="CSV with columns image,audio,output[,transcript,yaw_deg,...,seed,backend]")
    p.add_argument("--workers", type=int, default=1, help="videos made in parallel (> 1: a local Ray runtime)")
    p.add_argument("--ray-address", help="join this Ray cluster (e.g. auto or ray://HOST:10001)")
    sub.add_parser("doctor", help="smoke-test the installation (face model, speech, encoder, rasterizers)")
    for parser in [*sub.choices.values(), *bsub.choices.values()]:
        parser.add_argument("--verbose", action="store_true",
                            help="show the native MediaPipe / TensorFlow Lite log lines too")
    return ap


def _read_transcript(value: str | None) -> str | None:
    """The transcript text: `value` itself, or the contents of the .txt file it names."""
    if value is None:
        return None
    path = Path(value)
    if value.endswith(".txt") or (len(value) < 260 and path.is_file()):
        if not path.is_file():
            raise InputError(f"transcript file '{value}' does not exist")
        return path.read_text(encoding="utf-8").strip()
    return value


def _progress_bar():
    from tqdm import tqdm

    bar = tqdm(total=100, unit="%", bar_format="{l_bar}{bar}| {n_fmt}% [{elapsed}<{remaining}] {postfix}",
               file=sys.stderr)

    def update(fraction: float, message: str) -> None:
        bar.n = int(round(100 * fraction))
        bar.set_postfix_str(message, refresh=False)
        bar.refresh()

    return bar, update


def _cmd_talk(a) -> int:
    from vasa3d.io.tts import load_phones
    from vasa3d.pipeline import TalkingHeadPipeline, TalkRequest

    req = TalkRequest(image=a.image, audio=a.audio, output=Path(a.output), yaw_deg=a.yaw_deg, pitch_deg=a.pitch_deg,
                      camera_path=a.camera_path, size=a.size, fps=a.fps, expression_scale=a.expression_scale,
                      head_motion_scale=a.head_motion_scale, seed=a.seed, backend=a.backend, device=a.device,
                      language=a.language, emotion=a.emotion, emotion_intensity=a.emotion_intensity,
                      head_motion=a.head_motion, head_pose=a.head_pose, fragmented=a.stream,
                      personal_speech=not a.generic_speech)
    req.validate(_DEFAULTS)          # every option and path, before any work
    transcript = _read_transcript(a.transcript)
    phones = load_phones(a.audio) if Path(a.audio).suffix.lower() == ".wav" else None
    req = replace(req, transcript=transcript, phones=tuple(phones) if phones else None)
    if a.stream:
        from vasa3d.io.video import partial_path

        print(f"playable while it is made: {partial_path(a.output)}", file=sys.stderr)
    bar, update = _progress_bar()
    try:
        result = TalkingHeadPipeline().run(req, progress=update)
    finally:
        bar.close()
    print(json.dumps({"video": str(result.video), "frames": result.num_frames, "duration_s": round(result.duration_s, 3),
                      "backend": result.backend, "device": result.device, "gaussians": result.num_gaussians,
                      "speech_model": result.speech_model,
                      "timings_s": {k: round(v, 2) for k, v in result.timings.items()}}))
    return 0


def _cmd_build(a) -> int:
    from vasa3d import validate as v

    v.check_image_file(a.image)
    v.check_output_path(a.output, inputs=(a.image,), suffixes=(".npz",))
    if a.ply:
        v.check_output_path(a.ply, inputs=(a.image, a.output), suffixes=(".ply",))
    from vasa3d.avatar import Avatar
    avatar = Avatar.from_image(a.image, _DEFAULTS.face, _DEFAULTS.avatar)
    avatar.save(a.output)
    if a.ply:
        avatar.to_ply(a.ply)
    print(json.dumps({"avatar": a.output, "ply": a.ply, "gaussians": avatar.num_gaussians}))
    return 0


def _cmd_render(a) -> int:
    from vasa3d import validate as v
    from vasa3d.config import RenderConfig

    v.check_input_file(a.avatar, "avatar")
    v.check_input_file(a.motion, "motion")
    if a.audio:
        v.check_audio_file(a.audio)
    v.check_output_path(a.output, inputs=(a.avatar, a.motion, a.audio))
    fps = _DEFAULTS.render.fps if a.fps is None else a.fps    # checked now; the motion's own rate replaces None
    v.check_render_config(RenderConfig(size=a.size, fps=fps, backend=a.backend, camera_path=a.camera_path,
                                       yaw_deg=a.yaw_deg, pitch_deg=a.pitch_deg, device=a.device))
    from vasa3d.avatar import Avatar             # the heavy imports (torch) only after the checks
    from vasa3d.io.audio import read_audio
    from vasa3d.motion import MotionSequence
    from vasa3d.avatar.view import FrameRenderer
    from vasa3d.io.video import write_video
    from vasa3d.pipeline import AUDIO_RATE, render_frames
    from vasa3d.render.cameras import camera_path

    avatar, motion = Avatar.load(a.avatar), MotionSequence.load(a.motion)
    if a.fps is not None and a.fps != motion.fps:
        motion = motion.resample(a.fps)
    audio = read_audio(a.audio, sr=AUDIO_RATE) if a.audio else None
    path = camera_path(a.camera_path, motion.num_frames, motion.fps, math.radians(a.yaw_deg), math.radians(a.pitch_deg))
    renderer = FrameRenderer(avatar, a.size, a.backend, a.device)
    write_video(Path(a.output), render_frames(avatar, motion, path, renderer=renderer), motion.fps, audio, AUDIO_RATE)
    print(json.dumps({"video": a.output, "frames": motion.num_frames, "fps": motion.fps, "backend": renderer.backend,
                      "device": str(renderer.device)}))
    return 0


def _cmd_motion(a) -> int:
    from vasa3d import validate as v
    from vasa3d.config import MotionConfig
    from vasa3d.validate import check_motion_config
    from vasa3d.io.audio import read_audio
    from vasa3d.io.tts import load_phones
    from vasa3d.motion import motion_from_audio
    from vasa3d.pipeline import AUDIO_RATE

    v.check_audio_file(a.audio)
    v.check_output_path(a.output, inputs=(a.audio,), suffixes=(".npz", ".json"))
    if a.plot:
        v.check_output_path(a.plot, inputs=(a.audio, a.output), suffixes=(".png",))
    cfg = check_motion_config(MotionConfig(seed=a.seed, language=a.language, emotion=a.emotion,
                                           emotion_intensity=a.emotion_intensity, head_motion=a.head_motion))
    wave = read_audio(a.audio, sr=AUDIO_RATE)
    phones = load_phones(a.audio) if Path(a.audio).suffix.lower() == ".wav" else None
    transcript = _read_transcript(a.transcript)
    if a.head_pose:
        v.check_input_file(a.head_pose, "head-pose track")
    motion = motion_from_audio(wave, AUDIO_RATE, transcript, phones=phones,
                               config=cfg)
    if a.head_pose:
        from vasa3d.video_mode import head_pose_track

        motion = motion.with_head_pose(head_pose_track(a.head_pose, _DEFAULTS.face))
    motion.save(a.output)
    if a.plot:
        from vasa3d.motion import plot as motion_plot

        motion_plot.plot_motion(motion, wave, AUDIO_RATE, phones, a.plot)
    print(json.dumps({"motion": a.output, "frames": motion.num_frames, "plot": a.plot}))
    return 0


def _parse_sets(items: list[str]) -> tuple[tuple[str, ...], list[float]]:
    names, values = [], []
    for item in items:
        name, sep, value = item.partition("=")
        try:
            values.append(float(value))
        except ValueError:
            raise InputError(f"--set expects NAME=VALUE with a number, got '{item}'") from None
        if not sep or not name:
            raise InputError(f"--set expects NAME=VALUE, got '{item}'")
        if not math.isfinite(values[-1]):
            raise InputError(f"--set expects a finite number, got '{item}'")
        names.append(name.strip())
    return tuple(names), values


def _parse_rgb(text: str | None) -> tuple[float, float, float] | None:
    if text is None:
        return None
    parts = text.split(",")
    try:
        rgb = tuple(float(p) / 255.0 for p in parts)
    except ValueError:
        rgb = ()
    if len(rgb) != 3 or not all(0.0 <= c <= 1.0 for c in rgb):
        raise InputError(f"--background expects R,G,B with values 0-255, got '{text}'")
    return rgb


def _cmd_pose(a) -> int:
    from vasa3d import validate as v

    v.check_image_file(a.image)
    v.check_output_path(a.output, inputs=(a.image,), suffixes=IMAGE_SUFFIXES)
    v.check_number("size", a.size, v.MIN_SIZE_PX, v.MAX_SIZE_PX, integer=True)
    v.check_number("yaw (degrees)", a.yaw_deg, -v.MAX_YAW_DEG, v.MAX_YAW_DEG)
    v.check_number("pitch (degrees)", a.pitch_deg, -v.MAX_PITCH_DEG, v.MAX_PITCH_DEG)
    names, values = _parse_sets(a.set)
    background = _parse_rgb(a.background)
    from vasa3d.avatar import Avatar
    from vasa3d.avatar.view import neutral_pose, render_frame
    from vasa3d.io import write_image

    avatar = Avatar.from_image(a.image, _DEFAULTS.face, _DEFAULTS.avatar)
    try:
        frame = render_frame(avatar, neutral_pose(names, values), math.radians(a.yaw_deg), math.radians(a.pitch_deg),
                             a.size, background=background)
    except ValueError as exc:          # an unknown blendshape name: say which names exist
        raise InputError(str(exc)) from exc
    write_image(a.output, frame)
    print(json.dumps({"image": a.output, "set": dict(zip(names, values))}))
    return 0


def _cmd_expressions(a) -> int:
    from vasa3d import validate as v

    v.check_image_file(a.image)
    v.check_output_path(a.output, inputs=(a.image,), suffixes=IMAGE_SUFFIXES)
    v.check_number("tile", a.tile, 32, 1024, integer=True)
    from vasa3d.avatar import Avatar
    from vasa3d.avatar.view import expression_sheet
    from vasa3d.io import write_image

    avatar = Avatar.from_image(a.image, _DEFAULTS.face, _DEFAULTS.avatar)
    write_image(a.output, expression_sheet(avatar, tile=a.tile))
    print(json.dumps({"sheet": a.output, "blendshapes": len(avatar.head.rig.supported)}))
    return 0


def _cmd_say(a) -> int:
    from vasa3d.io.tts import synthesize_speech
    from vasa3d.validate import check_output_path

    check_output_path(a.output, suffixes=(".wav",))
    if a.language:
        from vasa3d.validate import check_language

        check_language(a.language)
    speech = synthesize_speech(a.text, voice=a.language or a.voice)
    speech.save(a.output)
    print(json.dumps({"wav": a.output, "duration_s": round(len(speech.wave) / speech.sr, 3),
                      "phones": [[round(p.start_s, 3), round(p.end_s, 3), p.phone] for p in speech.phones]}))
    return 0


def _cmd_bench(a) -> int:
    if a.bench == "pose":
        return _bench_pose(a)
    if a.bench == "fit":
        return _bench_fit(a)
    if a.bench == "pipeline":
        from vasa3d import validate as v
        from vasa3d.pipeline_bench import bench_pipeline

        if a.image:
            v.check_image_file(a.image)
        if a.audio:
            v.check_audio_file(a.audio)
        v.check_number("seconds", a.seconds, 0.5, 600.0)
        v.check_render_config(replace(_DEFAULTS.render, size=a.size,
                                      encoder_preset=a.preset or _DEFAULTS.render.encoder_preset))
        print(json.dumps(bench_pipeline(a.size, a.seconds, a.image, a.audio, a.preset), indent=2))
        return 0
    from vasa3d.render.bench import bench_render

    print(json.dumps(bench_render(n=a.n, size=a.size, backward=a.backward, backend=a.backend, repeats=a.repeats,
                                  seed=0), indent=2))
    return 0


def _bench_pose(a) -> int:
    from vasa3d.avatar import Avatar
    from vasa3d.avatar.bench import bench_pose
    from vasa3d.avatar.view import resolve_device

    if a.n_frames < 1:
        raise InputError(f"--n-frames must be at least 1, got {a.n_frames}")
    device = resolve_device(a.device)
    if a.avatar:
        avatar = Avatar.load(a.avatar)
    else:
        import skimage.data

        avatar = Avatar.from_image(a.image if a.image else skimage.data.astronaut(), _DEFAULTS.face, _DEFAULTS.avatar)
    print(json.dumps(bench_pose(avatar, n_frames=a.n_frames, device=device), indent=2))
    return 0


def _cmd_batch(a) -> int:
    from vasa3d.batch import read_jobs_csv, run_jobs, talk_job

    if a.workers < 1:
        raise InputError(f"--workers must be >= 1, got {a.workers}")
    requests = read_jobs_csv(a.jobs)             # every row validated before any work
    results = run_jobs(talk_job, requests, a.workers, a.ray_address,
                       progress=lambda r: print(f"{r.index + 1}/{len(requests)} "
                                                f"{'ok' if r.ok else 'failed'}", file=sys.stderr))
    print(json.dumps([{"output": str(requests[r.index].output), "error": r.error, "seconds": round(r.seconds, 2),
                       "hardware": r.hardware, **(r.value or {})} for r in results], indent=1))
    return 0 if all(r.ok for r in results) else 1


def _cmd_doctor(a) -> int:
    from vasa3d.doctor import run_doctor, verdict_line

    info = run_doctor()
    print(json.dumps(info, indent=2))
    print(verdict_line(info), file=sys.stderr)
    return 0 if info["verdict"] == "ok" else 1


def _add_video_mode_commands(sub) -> None:
    f = _DEFAULTS.fit
    p = sub.add_parser("fit", help="a talking video or 1-8 photos of one person -> a fitted avatar .npz",
                       description="Fit a person-specific avatar: track the face in every frame, build the avatar "
                                   "from the best frame, then refine it through the rasterizer on many frames.")
    p.add_argument("inputs", nargs="+", help="one video (mp4, mov, webm, mkv) or 1-8 photos of the same person")
    p.add_argument("-o", "--output", required=True, help="avatar file to write (.npz)")
    p.add_argument("--ply", help="also export the fitted Gaussians as a standard 3DGS .ply")
    p.add_argument("--start", type=float, default=0.0, help="video segment start, seconds")
    p.add_argument("--end", type=float, help="video segment end, seconds (default: the end)")
    p.add_argument("--max-frames", type=int, default=f.max_frames, help="frames the fit uses (spread evenly)")
    p.add_argument("--steps", type=int, default=f.steps, help="optimisation steps (one frame each)")
    p.add_argument("--seed", type=int, default=f.seed, help="random seed of the frame order")
    p = sub.add_parser("reenact", help="drive an avatar with the face motion of a video -> mp4",
                       description="Track the head pose and expressions in DRIVING and replay them on the avatar, in "
                                   "DRIVING's frame size, rate and length, with its audio.")
    p.add_argument("avatar", help="avatar file (.npz, from `vasa3d build` or `vasa3d fit`)")
    p.add_argument("driving", help="driving video (the same person: self-reenactment; another: cross)")
    p.add_argument("-o", "--output", required=True, help="video to write (.mp4)")
    p.add_argument("--start", type=float, default=0.0, help="driving segment start, seconds")
    p.add_argument("--end", type=float, help="driving segment end, seconds (default: the end)")
    p.add_argument("--backend", choices=["auto", "numba", "gsplat", "torch"], default=_DEFAULTS.render.backend,
                   help="rasterizer")
    p.add_argument("--device", default="cpu", help="where posing and rasterizing run: cpu, cuda, auto")
    p.add_argument("--same-person", action="store_true",
                   help="the driving video shows the avatar's own person (self-reenactment): solve its face against "
                        "the avatar's head model, so the avatar lands exactly on the driving head")


def _fit_config(a):
    from dataclasses import replace

    from vasa3d import validate as v

    v.check_number("--steps", a.steps, 1, 100_000, integer=True)
    v.check_number("--max-frames", a.max_frames, 1, 100_000, integer=True)
    return replace(_DEFAULTS.fit, steps=int(a.steps), max_frames=int(a.max_frames), seed=int(getattr(a, "seed", 0)))


def _check_segment(a) -> None:
    from vasa3d import validate as v

    v.check_number("--start", a.start, 0.0, 1e6)
    if a.end is not None:
        v.check_number("--end", a.end, 0.0, 1e6)
        if a.end <= a.start:
            raise InputError(f"--end ({a.end}) must be after --start ({a.start})")


def _cmd_fit(a) -> int:
    from vasa3d import validate as v
    from vasa3d.video_mode import VIDEO_SUFFIXES, fit_from_photos, fit_from_video

    config = _fit_config(a)
    _check_segment(a)
    for path in a.inputs:
        v.check_input_file(path, "input")
    if not a.output.lower().endswith(".npz"):
        raise InputError(f"output '{a.output}' must end in .npz (an avatar file)")
    v.check_output_path(a.output, inputs=tuple(a.inputs), suffixes=(".npz",))
    videos = [p for p in a.inputs if Path(p).suffix.lower() in VIDEO_SUFFIXES]
    if videos and len(a.inputs) > 1:
        raise InputError("give one video, or 1-8 photos, not both")
    bar, update = _progress_bar()
    try:
        if videos:
            avatar, report = fit_from_video(videos[0], a.start, a.end, config, _DEFAULTS.face, progress=update)
        else:
            avatar, report = fit_from_photos(a.inputs, config, _DEFAULTS.face, progress=update)
    finally:
        bar.close()
    avatar.save(a.output)
    if a.ply:
        avatar.to_ply(a.ply)
    print(json.dumps({"avatar": a.output, "ply": a.ply, "gaussians": avatar.num_gaussians,
                      "frames_tracked": report.frames_tracked, "frames_used": report.frames_used,
                      "track_residual_px": round(report.track_residual_px, 3), "loss_start": round(report.loss_start, 4),
                      "loss_end": round(report.loss_end, 4), "speech_model": report.speech_model,
                      "timings_s": {k: round(v, 2) for k, v in report.timings.items()}}))
    return 0


def _cmd_reenact(a) -> int:
    from vasa3d import validate as v

    _check_segment(a)
    v.check_input_file(a.avatar, "avatar")
    v.check_input_file(a.driving, "driving video")
    v.check_output_path(a.output, inputs=(a.avatar, a.driving))
    v.check_device(a.device)
    from vasa3d.avatar import Avatar
    from vasa3d.video_mode import reenact

    avatar = Avatar.load(a.avatar)
    bar, update = _progress_bar()
    try:
        figures = reenact(avatar, a.driving, a.output, a.start, a.end, a.backend, a.device, _DEFAULTS.face,
                          progress=update, same_person=a.same_person)
    finally:
        bar.close()
    print(json.dumps({"video": a.output, **{k: round(v, 2) if isinstance(v, float) else v
                                           for k, v in figures.items()}}))
    return 0


def _bench_fit(a) -> int:
    import resource
    import time

    from vasa3d.video_mode import fit_from_video

    video = a.video or str(Path(__file__).resolve().parents[2] / "shared" / "data" / "video" /
                           "v01_grid_s1_concat60s.mp4")
    config = _fit_config(a)
    t0 = time.perf_counter()
    _, report = fit_from_video(video, a.start, a.end, config, _DEFAULTS.face)
    print(json.dumps({"video": video, "segment_s": [a.start, a.end], "total_s": round(time.perf_counter() - t0, 2),
                      **{k: round(v, 2) for k, v in report.timings.items()},
                      "frames_tracked": report.frames_tracked, "frames_used": report.frames_used,
                      "steps": config.steps, "track_residual_px": round(report.track_residual_px, 3),
                      "loss_start": round(report.loss_start, 4), "loss_end": round(report.loss_end, 4),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)},
                     indent=2))
    return 0


COMMANDS = {"talk": _cmd_talk, "build": _cmd_build, "render": _cmd_render, "motion": _cmd_motion,
            "pose": _cmd_pose, "expressions": _cmd_expressions,
            "say": _cmd_say, "fit": _cmd_fit, "reenact": _cmd_reenact, "bench": _cmd_bench, "doctor": _cmd_doctor}
COMMANDS["batch"] = _cmd_batch


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `vasa3d` console command; returns the exit code (0 ok, 1 doctor found a problem,
    2 bad input). Run from the command line (argv None) without --verbose, native log lines are dropped."""
    args = _parser().parse_args(argv)
    if argv is None and not args.verbose:
        from vasa3d.logs import quiet_native_logs

        quiet_native_logs()
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
