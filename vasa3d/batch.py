"""Many jobs at once: run one function over a list of jobs, in this process or in parallel on Ray.

`run_jobs(fn, jobs, workers=1)` calls `fn(job)` for each job in this process; `workers > 1` starts a local Ray
runtime with `ray.init(num_cpus=workers)` and runs each job as a Ray task of one CPU; `ray_address` joins an existing
Ray cluster with `ray.init(address=...)` instead (Ray's documented ways of starting and connecting,
https://docs.ray.io/en/latest/ray-core/starting-ray.html). On Ray, jobs are submitted longest first when the caller
gives a cost estimate (Graham's LPT rule: the last job to start is a short one, so no worker idles long at the
end). A job that raises is returned with its error (type and message) and never stops the others. Every result
records the hardware of the process that ran it (host, CPU model, cores, torch threads, GPU), its wall-clock
seconds and the CPU seconds it used (its process and the programs it ran, e.g. the video encoder), so speed figures
can be read next to the machine that made them, and compared across loads. Results come back in the order of
`jobs`.

`fn` must be importable by name on the workers (a module-level function): Ray pickles it by reference. Used by
`vasa3d batch JOBS.csv` (`vasa3d.cli`) and by `python -m eval run --workers N`.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


@dataclass
class JobResult:
    """One job's outcome: index into the job list, value (None when it failed), error ("Type: message") or None,
    seconds of wall-clock time, hardware of the worker that ran it, CPU seconds (user + system) of the worker's
    process and of the child programs that finished during the job."""

    index: int
    value: Any = None
    error: str | None = None
    seconds: float = 0.0
    hardware: dict = field(default_factory=dict)
    cpu_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the job returned."""
        return self.error is None


def hardware() -> dict:
    """The running process's machine: host, cpu model, logical cores, torch threads, CUDA device name or None."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    except OSError:
        pass
    info = {"host": platform.node(), "cpu": cpu, "cores": os.cpu_count(), "torch_threads": None, "gpu": None}
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its waited-for children so far."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_one(fn: Callable[[Any], Any], job: Any, index: int = 0) -> JobResult:
    """Run `fn(job)`, catching any exception into the result (see `JobResult`)."""
    t0, c0 = time.perf_counter(), _cpu_seconds()
    try:
        value, error = fn(job), None
    except Exception as exc:  # noqa: BLE001 - one failed job must not lose the others; the reason is kept
        value = None
        error = f"{type(exc).__name__}: {exc}"
        tb = traceback.format_exc(limit=3)
        if os.environ.get("VASA3D_BATCH_TRACEBACK"):
            error += "\n" + tb
    return JobResult(index, value, error, time.perf_counter() - t0, hardware(), _cpu_seconds() - c0)


def run_jobs(fn: Callable[[Any], Any], jobs: Sequence[Any], workers: int = 1, ray_address: str | None = None,
             progress: Callable[[JobResult], None] | None = None,
             cost: Callable[[Any], float] | None = None) -> list[JobResult]:
    """Run `fn` over `jobs`; returns one JobResult per job, in job order.

    workers: 1 (and no ray_address) runs in this process, in job order; N > 1 starts a local Ray runtime with N
    CPUs. ray_address: join this Ray cluster ("auto", "ray://host:10001", "host:6379"). progress: called with each
    result as it finishes. cost: optional estimate of a job's run time (any unit); on Ray the jobs are submitted in
    decreasing cost (ties keep job order). Raises ValueError for workers < 1 and ImportError when Ray is needed but
    not installed.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if workers == 1 and ray_address is None:
        out = []
        for i, job in enumerate(jobs):
            out.append(run_one(fn, job, i))
            if progress:
                progress(out[-1])
        return out
    order = list(range(len(jobs)))
    if cost is not None:
        order.sort(key=lambda i: -cost(jobs[i]))
    return _run_on_ray(fn, list(jobs), order, workers, ray_address, progress)


WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE",
              "OPENCV_FOR_THREADS_NUM": "1"}
"""Each Ray task holds one CPU, so its numba, torch and OpenCV pools get one thread: with the defaults every worker
ran a pool per core, N workers on N cores ran N^2 threads, and two workers on two cores took 1.17x the time of one."""


def _run_on_ray(fn, jobs: list, order: list[int], workers: int, ray_address: str | None, progress
                ) -> list[JobResult]:
    import ray

    started = not ray.is_initialized()
    if started:
        if ray_address:
            ray.init(address=ray_address, log_to_driver=False)
        else:  # the local raylet, and so every worker, inherits the environment at start (a runtime_env would
            # start Ray's runtime-env agent first: 1.8-2.9 s more before the first task here, against 0.2-0.3 s)
            with _environ({"PYTHONPATH": _python_path(), **WORKER_ENV}):
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        options = dict(num_cpus=1, max_retries=0)
        if ray_address:  # a cluster's workers: the thread limits travel with each task
            options["runtime_env"] = {"env_vars": dict(WORKER_ENV)}
        task = ray.remote(**options)(run_one)
        pending = {task.remote(fn, jobs[i], i): i for i in order}
        results: dict[int, JobResult] = {}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            i = pending.pop(ref)
            try:
                results[i] = ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - a worker that died: report it with the job
                results[i] = JobResult(i, None, f"worker failed: {type(exc).__name__}: {exc}")
            if progress:
                progress(results[i])
        return [results[i] for i in range(len(jobs))]
    finally:
        if started:
            ray.shutdown()


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    """Set environment variables for the duration of the block, then restore the previous values."""
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _python_path() -> str:
    """The current folder, then the driver's PYTHONPATH: local workers import what the driver imports from there."""
    parts = [os.getcwd()] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys(parts))


# ---------------------------------------------------------------------- `vasa3d batch JOBS.csv`
JOB_COLUMNS = ("image", "audio", "output", "transcript", "yaw_deg", "pitch_deg", "camera_path", "size", "fps",
               "expression_scale", "head_motion_scale", "seed", "backend", "device")
"""Columns of a jobs CSV: image, audio, output are required; the rest are `vasa3d talk`'s options (empty = default).
Relative paths are relative to the CSV's folder."""
_FLOATS = ("yaw_deg", "pitch_deg", "fps", "expression_scale", "head_motion_scale")
_INTS = ("size", "seed")


def read_jobs_csv(path) -> list:
    """TalkRequests of a jobs CSV (header row; columns in `JOB_COLUMNS`), each validated before any work.

    Raises InputError naming the row and column for an unknown column, a missing required value, a number that
    does not parse, or an option `TalkRequest.validate` rejects; also two rows with the same output.
    """
    import csv
    from pathlib import Path

    from vasa3d.errors import InputError
    from vasa3d.pipeline import TalkRequest

    path = Path(path)
    if not path.is_file():
        raise InputError(f"jobs file '{path}' not found")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    unknown = set(rows[0]) - set(JOB_COLUMNS) if rows else set()
    if not rows or unknown:
        raise InputError(f"'{path}': need a header and one row per video; columns: {', '.join(JOB_COLUMNS)}"
                         + (f" (unknown: {', '.join(sorted(unknown))})" if unknown else ""))
    requests, outputs = [], set()
    for n, row in enumerate(rows, start=2):
        vals = {k: (v or "").strip() for k, v in row.items() if (v or "").strip()}
        try:
            for k in ("image", "audio", "output"):
                if k not in vals:
                    raise InputError(f"column '{k}' is empty")
                vals[k] = (path.parent / vals[k]) if not Path(vals[k]).is_absolute() else Path(vals[k])
            for k in _FLOATS:
                if k in vals:
                    vals[k] = float(vals[k])
            for k in _INTS:
                if k in vals:
                    vals[k] = int(vals[k])
            req = TalkRequest(**vals)
            req.validate()
        except (InputError, ValueError) as exc:
            raise InputError(f"'{path}' line {n}: {exc}") from None
        if str(req.output.resolve()) in outputs:
            raise InputError(f"'{path}' line {n}: output '{req.output}' is written by an earlier row too")
        outputs.add(str(req.output.resolve()))
        requests.append(req)
    return requests


def talk_job(request) -> dict:
    """Make one video (`TalkingHeadPipeline().run`); returns its summary (video, frames, backend, timings)."""
    from vasa3d.pipeline import TalkingHeadPipeline

    result = TalkingHeadPipeline().run(request)
    return {"video": str(result.video), "frames": result.num_frames, "backend": result.backend,
            "timings_s": {k: round(v, 2) for k, v in result.timings.items()}}
