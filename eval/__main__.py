"""`python -m eval make-bench ...`, `python -m eval run ...` and `python -m eval head-check ...` (see `eval/__init__.py`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from eval.methods import BUILTIN


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m eval", description="vasa3d evaluation suite")
    sub = p.add_subparsers(dest="command", required=True)
    mb = sub.add_parser("make-bench", help="build benchmark cases from the shared data folder")
    mb.add_argument("--from", dest="data", type=Path, required=True, help="data folder (with SOURCES.md)")
    mb.add_argument("--out", type=Path, required=True, help="benchmark folder to write")
    mb.add_argument("--portraits", help="comma-separated portrait file names (default: p02, p03, p06)")
    mb.add_argument("--clips", help="comma-separated audio clip stems (default: a01, a02)")
    mb.add_argument("--grid", help="comma-separated GRID sentence ids (default: bbaf2n,bbbf8p)")
    run = sub.add_parser("run", help="make or find each method's videos and score them",
                         description="Score each method on each case of a benchmark folder; LSE-C/LSE-D stay null "
                                     "(no SyncNet weights ship; av_offset_frames/av_confidence replace them).")
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
    run.add_argument("--out", type=Path, required=True,
                     help="results folder: videos, results.csv, results.json, report.md and plots are written here")
    hc = sub.add_parser("head-check", help="the head model's tracker figures on renders of portraits (JSON)")
    hc.add_argument("portraits", nargs="*", type=Path,
                    help="portrait images (default: every image in ../shared/data/portraits)")
    hc.add_argument("--sheet", type=Path, help="also write a contact sheet PNG here: each portrait at yaw -30, 0, "
                                               "+30 with the mouth closed, then open")
    return p


def _make_bench(args) -> int:
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
    from eval.runner import evaluate_case

    externals = {}
    for item in args.external:
        name, sep, folder = item.partition("=")
        if not sep or not name or not Path(folder).is_dir():
            raise SystemExit(f"--external expects NAME=DIR with an existing DIR, got {item!r}")
        externals[name] = Path(folder)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in BUILTIN and m not in externals]
    if unknown:
        raise SystemExit(f"unknown methods {unknown}; choose from {BUILTIN} or add --external NAME=DIR")
    cases = load_cases(args.bench, args.cases.split(",") if args.cases else None)
    args.out.mkdir(parents=True, exist_ok=True)
    evals, durations = [], {}
    bar = tqdm(total=len(cases) * len(methods), unit="video", desc="evaluating")

    def tell(message: str, done: int) -> None:
        bar.set_postfix_str(message[:60])
        bar.update(done)

    for case in cases:
        evals += evaluate_case(case, methods, args.out, args.size, externals, None, args.reuse, tell)
        durations[case.name] = probe_media(case.audio).duration_s
    bar.close()
    settings = {"size": args.size, "fps": 25, "syncnet_weights": "none"}
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
