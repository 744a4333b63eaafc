"""Quiet native logs: drop MediaPipe / TensorFlow Lite / absl chatter that C++ code writes straight to stderr.

MediaPipe 0.10.21 logs through absl before `absl::InitializeLog()`, which writes every warning to file
descriptor 2 whatever GLOG_* or TF_CPP_* say (lines like ``W0000 00:00:... inference_feedback_manager.cc:114]
...``). Only the process's entry points (the `vasa3d` command, `python app.py`) call `quiet_native_logs`; it
replaces descriptor 2 by a pipe whose reader thread forwards everything except such lines to the real stderr,
so Python's own output (progress bars, `error: ...` lines, tracebacks) is unchanged. Library modules never
call it; nothing happens at import.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading

# absl/glog prefix "W0000 00:00:1795933069.884647   12919 file.cc:114] ..." (I, W, E; not F = fatal), and the
# fixed lines TensorFlow Lite and absl print once.
NOISE = re.compile(rb"^(?:[IWE]\d{4} [\d:. ]+\d+ [\w./-]+:\d+\] .*"
                   rb"|INFO: Created TensorFlow Lite .*"
                   rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
                   rb")\r?$")
ENV_QUIET = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3"}

_installed: list[int] = []


def quiet_native_logs() -> None:
    """From now on, drop native log lines matching `NOISE` from this process's stderr (descriptor 2).

    Sets GLOG_minloglevel and TF_CPP_MIN_LOG_LEVEL (when unset) for libraries that read them. Call it once, at
    the entry point, before MediaPipe is imported; a second call does nothing. The filter is flushed and
    descriptor 2 restored at exit.
    """
    if _installed:
        return
    for key, value in ENV_QUIET.items():
        os.environ.setdefault(key, value)
    sys.stderr.flush()
    real = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    thread = threading.Thread(target=_forward, args=(read_end, real), name="quiet-native-logs", daemon=True)
    thread.start()
    _installed.append(real)

    def restore() -> None:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(real, 2)     # closes the pipe's last write end: the reader sees EOF and drains
        thread.join(timeout=2.0)

    atexit.register(restore)


def filter_chunk(pending: bytes, chunk: bytes) -> tuple[bytes, bytes]:
    """(bytes to forward, bytes still pending) after reading `chunk`.

    Complete lines matching `NOISE` are dropped, other complete lines forwarded. An unfinished last line is
    forwarded at once (progress bars redraw with carriage returns) unless it could still become a noise line.
    """
    data = pending + chunk
    lines = data.split(b"\n")
    tail = lines.pop()
    out = [line + b"\n" for line in lines if not NOISE.match(line)]
    if tail and not _could_be_noise(tail):
        out.append(tail)
        tail = b""
    return b"".join(out), tail


def _could_be_noise(partial: bytes) -> bool:
    return bool(re.match(rb"^(?:[IWE]\d{0,4}(?: .*)?|INFO: .*|WARNING: .*|I|IN|INF|INFO|W|WA|WAR|WARN|WARNI"
                         rb"|WARNIN|WARNING)$", partial))


def _forward(read_end: int, real: int) -> None:
    pending = b""
    while True:
        try:
            chunk = os.read(read_end, 65536)
        except OSError:
            break
        if not chunk:
            break
        out, pending = filter_chunk(pending, chunk)
        if out:
            os.write(real, out)
    if pending and not NOISE.match(pending):
        os.write(real, pending)
    os.close(read_end)
