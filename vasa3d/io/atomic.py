"""Atomic file writing: write to a temporary file beside the target, then rename it into place.

A reader never sees a half-written output, and a failed or interrupted write (an exception, a generator that
raises mid-way, KeyboardInterrupt) leaves neither the target nor a temporary file behind. The rename is
`os.replace`, atomic on POSIX and on Windows when both paths are on the same volume, which is why the temporary
file lives in the target's own directory.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import IO

TEMP_PREFIX = ".tmp-"


def temp_path_for(path: str | os.PathLike[str]) -> Path:
    """A fresh temporary path in the same directory as `path`, keeping its suffix.

    The suffix is kept so that libraries choosing a format from the file name (Pillow, FFmpeg) still do.
    Example: ``out/video.mp4`` -> ``out/.tmp-video-3f9a1c2b.mp4``. Nothing is created on disk.
    """
    path = Path(path)
    return path.with_name(f"{TEMP_PREFIX}{path.stem}-{secrets.token_hex(4)}{path.suffix}")


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`, on any failure delete it.

    Usage::

        with atomic_path("out.mp4") as tmp:
            encode_to(tmp)          # write anything to `tmp`
        # now out.mp4 exists, complete

    The parent directory must exist (raises `FileNotFoundError` otherwise, before the body runs). If the body
    raises (any `BaseException`, KeyboardInterrupt included) the temporary file is removed, the target is left
    as it was before, and the exception propagates. If the body finishes without creating the temporary file,
    `FileNotFoundError` is raised.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write '{path}': directory '{path.parent}' does not exist")
    tmp = temp_path_for(path)
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(f"atomic write of '{path}' produced no file at '{tmp}'")
        os.replace(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "wb", **open_kwargs) -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; rename it onto `path` when the block succeeds.

    `mode` is a write mode for `open` ("wb", "w", ...; "a" and "r" modes are refused with `ValueError`);
    `open_kwargs` (e.g. ``encoding="utf-8"``) are passed to `open`. The file is flushed and fsync'ed before the
    rename. On any exception the temporary file is deleted and the target is untouched.
    """
    if "w" not in mode and "x" not in mode:
        raise ValueError(f"atomic_write needs a write mode ('w', 'wb', ...), got {mode!r}")
    mode = mode.replace("x", "w")
    with atomic_path(path) as tmp:
        with open(tmp, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
