"""`python -m eval make-bench ...`, `python -m eval run ...` and `python -m eval head-check ...` (see `eval/__init__.py`)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from eval.methods import BUILTIN


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m eval", description="vasa3d evaluation suite")
    sub = p.add_subparsers(dest="command", required=True)
    mb = sub.add_parser("make-bench", help="build benchmark cases from the shared data folder or from real videos")
    src = mb.add_mutually_exclusive_group(required=True)
    src.add_argument("--from", dest="data", type=Path, help="data folder (with SOURCES.md)")
    src.add_argument("--from-videos", type=Path,
                     help="folder of real talking videos: face-centred square clips, each a self-reenactment case")
    mb.add_argument("--clip-s", type=float, default=10.0, help="--from-videos: clip length in s (default: %(default)s)")
    mb.add_argument("--size", type=int, default=512, help="--from-videos: crop side in px (default: %(default)s)")
    mb.add_argument("--portrait-s", type=float, default=0.0,
                    help="--from-videos: the portrait is the clip's frame at this many s (default: the first)")
    mb.add_argument("--out", type=Path, required=True, help="benchmark folder to write")
    mb.add_argument("--portraits", help="comma-separated portrait file names (default: p02, p03, p06)")
    mb.add_argument("--clips", help="comma-separated audio clip stems (default: a01, a02)")
    mb.add_argument("--grid", help="comma-separated GRID sentence ids (default: bbaf2n,bbbf8p)")
    run = sub.add_parser("run", help="make or find each method's videos and score them",
                         description="Score each method on each case of a benchmark folder; LSE-C/LSE-D are null "
                                     "unless --syncnet-weights is given (no package ships them; av_offset_frames/"
                                     "av_confidence are the weight-free sync figures).")
    run.add_argument("--bench", type=Path, required=True,
                     help="benchmark folder: one sub-folder per case with portrait.*, audio.*, transcript.txt?, "
                          "video.mp4? (from make-bench)")
    run.add_argument("--methods", default="vasa3d,static,warp2d,groundtruth",
                     help=f"comma-separated: {', '.join(BUILTIN)} or names given with --external "
                          "(default: %(default)s)")
    run.add_argument("--external", action="append", default=[], metavar="NAME=DIR",
                     help="score DIR/<case>.mp4 as method NAME (repeatable)")
    run.add_argument("--size", type=int, default=256,
                     help="output side in pixels for generated videos (default: %(default)s)")
    run.add_argument("--cases", help="comma-separated case names (default: all)")
    run.add_argument("--reuse", action="store_true", help="reuse videos made by an earlier run in OUT")
    run.add_argument("--syncnet-weights", type=Path,
                     help="SyncNet's syncnet_v2.model (never downloaded): enables lse_c / lse_d")
    run.add_argument("--reenact", default="",
                     help="comma-separated drivable methods (groundtruth, static, vasa3d) also scored driven by each "
                          "case's real video (self-reenactment: image metrics under the same motion)")
    run.add_argument("--lmd-landmarks", default="auto", choices=("auto", "mediapipe", "face-alignment"),
                     help="lip landmarks for LMD: face-alignment's 2D-FAN when installed with its weights already in "
                          "the torch cache (auto picks it then; never downloads), else MediaPipe (default: auto)")
    run.add_argument("--workers", type=int, default=1,
                     help="cases run in parallel: 1 runs them in this process, N > 1 on a local Ray runtime with "
                          "N CPUs (default: %(default)s)")
    run.add_argument("--ray-address", help="join this Ray cluster (e.g. auto or ray://HOST:10001) instead")
    run.add_argument("--out", type=Path, required=True,
                     help="results folder: videos, results.csv, results.json, report.md and plots are written here")
    hc = sub.add_parser("head-check", help="the head model's tracker figures on renders of portraits (JSON)")
    hc.add_argument("portraits", nargs="*", type=Path,
                    help="portrait images (default: every image in ../shared/data/portraits)")
    hc.add_argument("--sheet", type=Path, help="also write a contact sheet PNG here: each portrait at yaw -30, 0, "
                                               "+30 with the mouth closed, then open")
    mc = sub.add_parser("motion-check", help="lip-sync, silence and head-motion figures of the motion model (JSON)")
    mc.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data",
                    help="data folder with portraits/, audio/, video/ (default: ../shared/data)")
    mc.add_argument("--portrait", default="p02_obama_official.jpg", help="portrait file name in DATA/portraits")
    mc.add_argument("--size", type=int, default=512, help="render side in pixels (default: %(default)s)")
    mc.add_argument("--cases", help="comma-separated case names (default: all)")
    mc.add_argument("--strip", type=Path, help="write a mouth close-up strip (PNG) of one case")
    mc.add_argument("--strip-case", default="en_synth_text", help="the case of --strip (default: %(default)s)")
    mc.add_argument("--no-reference", action="store_true", help="skip the real GRID video's figures")
    sc = sub.add_parser("speech-check", help="the person-specific speech model vs the generic one on held-out "
                                             "speech of a talking video (JSON)")
    sc.add_argument("--video", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data" /
                    "video" / "v01_grid_s1_concat60s.mp4", help="talking video (default: ../shared/data's GRID video)")
    sc.add_argument("--start", type=float, default=0.0, help="learning part start, s (default: %(default)s)")
    sc.add_argument("--split", type=float, default=42.0, help="learn before, score after, s (default: %(default)s)")
    sc.add_argument("--end", type=float, default=60.0, help="held-out part end, s (default: %(default)s)")
    sc.add_argument("--render", action="store_true", help="also render both motions and track the renders")
    sc.add_argument("--size", type=int, default=256, help="--render: side in pixels (default: %(default)s)")
    sc.add_argument("--out", type=Path, help="also write the JSON here")
    sc.add_argument("--plot", type=Path, help="also plot the held-out lip gaps (PNG)")
    fc = sub.add_parser("fit-check", help="self-reenactment on held-out frames: video-fitted, 3-photo and "
                                          "single-photo avatars against a still real frame (table, JSON, sheet)")
    fc.add_argument("--video", type=Path, default=sc.get_default("video"),
                    help="talking video (default: ../shared/data's GRID video)")
    fc.add_argument("--start", type=float, default=0.0, help="fitting part start, s (default: %(default)s)")
    fc.add_argument("--split", type=float, default=42.0, help="fit before, score after, s (default: %(default)s)")
    fc.add_argument("--end", type=float, default=60.0, help="held-out part end, s (default: %(default)s)")
    fc.add_argument("--steps", type=int, default=600, help="fitting steps (default: %(default)s)")
    fc.add_argument("--max-frames", type=int, default=300, help="video frames the fit uses (default: %(default)s)")
    fc.add_argument("--hold", type=float, default=3.0,
                    help="static baseline: the real frame at the start of each HOLD s, held (default: %(default)s)")
    fc.add_argument("--crop", type=int, default=128,
                    help="side of the compared face/mouth crops (default: %(default)s)")
    fc.add_argument("--talk-size", type=int, default=256, help="side of the talk renders (default: %(default)s)")
    fc.add_argument("--cache", type=Path, default=Path(".cache") / "fit-check",
                    help="folder for the avatars and videos (reused by later runs; default: %(default)s)")
    fc.add_argument("--out", type=Path, help="also write the JSON here")
    fc.add_argument("--sheet", type=Path, help="also write a contact sheet of held-out frames (PNG)")
    return p


def _make_bench(args) -> int:
    if args.from_videos is not None:
        from eval.from_videos import make_bench_from_videos

        cases = make_bench_from_videos(args.from_videos, args.out, args.clip_s, args.size, args.portrait_s)
        print(f"{len(cases)} cases in {args.out} (provenance: {args.out / 'README.md'} and each case.json)")
        return 0
    from eval.bench import DEFAULT_CLIPS, DEFAULT_GRID_SENTENCES, DEFAULT_PORTRAITS, make_bench

    def split(s, default):
        return tuple(x.strip() for x in s.split(",") if x.strip()) if s else default

    cases = make_bench(args.data, args.out, split(args.portraits, DEFAULT_PORTRAITS), split(args.clips, DEFAULT_CLIPS),
                       split(args.grid, DEFAULT_GRID_SENTENCES))
    print(f"{len(cases)} cases in {args.out} (provenance and licences: {args.out / 'README.md'})")
    return 0


def _run(args) -> int:
    from tqdm import tqdm
    from vasa3d.io import probe_media

    from eval.bench import load_cases
    from eval.report import write_report
    from eval.results import write_csv, write_json
    from eval.runner import CaseJob, evaluate_cases

    externals = {}
    for item in args.external:
        name, sep, folder = item.partition("=")
        if not sep or not name or not Path(folder).is_dir():
            raise SystemExit(f"--external expects NAME=DIR with an existing DIR, got {item!r}")
        externals[name] = Path(folder).resolve()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in BUILTIN and m not in externals]
    if unknown:
        raise SystemExit(f"unknown methods {unknown}; choose from {BUILTIN} or add --external NAME=DIR")
    from eval.reenact import DRIVABLE, SUFFIX

    reenact = tuple(m.strip() for m in args.reenact.split(",") if m.strip())
    if set(reenact) - set(DRIVABLE):
        raise SystemExit(f"unknown --reenact methods {sorted(set(reenact) - set(DRIVABLE))}; "
                         f"choose from {list(DRIVABLE)}")
    if args.workers < 1:
        raise SystemExit(f"--workers must be >= 1, got {args.workers}")
    from vasa3d.errors import InputError

    weights = None
    if args.syncnet_weights is not None:
        from eval.metrics.syncnet import load_syncnet

        weights = args.syncnet_weights.resolve()
        try:
            load_syncnet(weights)
        except (InputError, ImportError) as exc:
            raise SystemExit(f"error: {exc}") from None
    from eval.metrics.lmd import resolve

    try:
        lips = resolve(args.lmd_landmarks)
    except InputError as exc:
        raise SystemExit(f"error: {exc}") from None
    cases = load_cases(args.bench.resolve(), args.cases.split(",") if args.cases else None)
    args.out.mkdir(parents=True, exist_ok=True)
    jobs = [CaseJob(c, tuple(methods), args.out.resolve(), args.size, tuple(externals.items()), weights,
                    args.reuse, reenact, lips) for c in cases]
    methods = methods + [m + SUFFIX for m in reenact]
    bar = tqdm(total=len(jobs), unit="case", desc=f"evaluating ({args.workers} worker(s))")

    def tell(res) -> None:
        bar.set_postfix_str((jobs[res.index].case.name + (" failed" if res.error else ""))[:60])
        bar.update(1)

    t0 = time.perf_counter()
    evals = evaluate_cases(jobs, args.workers, args.ray_address, tell)
    bar.close()
    durations = {c.name: probe_media(c.audio).duration_s for c in cases}
    settings = {"size": args.size, "fps": 25, "syncnet_weights": str(weights or "none"), "workers": args.workers,
                "lmd_landmarks": lips, "ray_address": args.ray_address or "-",
                "wall_s": round(time.perf_counter() - t0, 2),
                "case_cpu_s": round(sum({e.case: e.extra.get("case_cpu_seconds") or 0.0 for e in evals}.values()), 1)}
    write_csv(evals, args.out / "results.csv")
    write_json(evals, args.out / "results.json", str(args.bench), methods, settings)
    report = write_report(evals, args.out, str(args.bench), methods, settings, durations)
    print(f"wrote {args.out / 'results.csv'}, {args.out / 'results.json'} and {report}")
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("GLOG_minloglevel", "2")       # MediaPipe's C++ logging
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = _parser().parse_args(argv)
    if args.command == "head-check":
        return _head_check(args)
    if args.command == "motion-check":
        from eval.motion_check import main as motion_check_main

        return motion_check_main(args.data, args.portrait, args.size, args.cases.split(",") if args.cases else None,
                                 args.strip, not args.no_reference, args.strip_case)
    if args.command == "speech-check":
        from eval.speech_check import main as speech_check_main

        if not args.start < args.split < args.end:
            raise SystemExit("need --start < --split < --end")
        return speech_check_main(args.video, args.start, args.split, args.end, args.render, args.size, args.out,
                                 args.plot)
    if args.command == "fit-check":
        from eval.fit_check import main as fit_check_main

        if not args.start < args.split < args.end:
            raise SystemExit("need --start < --split < --end")
        if not args.video.is_file():
            raise SystemExit(f"no such video: {args.video}")
        from vasa3d.errors import InputError

        try:
            fit_check_main(args.video, args.start, args.split, args.end, args.steps, args.max_frames, args.hold,
                           args.crop, args.talk_size, args.cache, args.out, args.sheet)
        except InputError as exc:
            raise SystemExit(f"\nerror: {exc}") from None
        return 0
    return _make_bench(args) if args.command == "make-bench" else _run(args)


def _head_check(args) -> int:
    from eval.head_check import main as head_check_main

    portraits = args.portraits
    if not portraits:
        folder = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "portraits"
        portraits = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    missing = [str(p) for p in portraits if not p.is_file()]
    if missing or not portraits:
        raise SystemExit(f"no such portrait: {', '.join(missing) or 'none found in ../shared/data/portraits'}")
    return head_check_main(portraits, args.sheet)


if __name__ == "__main__":
    sys.exit(main())
