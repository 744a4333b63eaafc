"""The web demo in a real browser: `python app.py` with the real pipeline, driven by Debian's chromium through
Playwright. Damaged uploads must show our own one-line message (never Gradio's generic one, a server path or an
errno), the server must log each as one line without a traceback, and an 80-megapixel upload must be refused
from its header (the server's peak memory stays under 1.5 GB).

Skipped when /usr/bin/chromium or the `playwright` package is missing (`.ci/run` installs chromium when it can;
never run `playwright install`)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import data

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
APP = Path(__file__).resolve().parents[1] / "app.py"
MAX_SERVER_MB = 1500

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium "
                                                                "(apt-get install chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb(pid: int) -> dict[str, int]:
    """Current (VmRSS) and peak (VmHWM) resident memory of a process, MB (Linux /proc)."""
    text = Path(f"/proc/{pid}/status").read_text()
    return {key: int(re.search(key + r":\s+(\d+)", text).group(1)) // 1024 for key in ("VmRSS", "VmHWM")}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(url, process, log path) of `python app.py` serving on a free local port."""
    folder = tmp_path_factory.mktemp("server")
    port = _free_port()
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               GRADIO_ANALYTICS_ENABLED="False")
    log = folder / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, str(APP)], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=folder)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"the app did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
    yield url, proc, log
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def page(server):
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (requirements-dev)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(server[0])
        page.get_by_role("button", name="Generate").wait_for(timeout=60_000)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def uploads(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("uploads")
    photo = data("portraits/p04_einstein_bw.jpg").read_bytes()
    (folder / "portrait.jpg").write_bytes(photo)
    (folder / "cut.jpg").write_bytes(photo[: len(photo) // 3])
    from PIL import Image

    # a real 80-megapixel JPEG (uniform grey: 0.7 MB, made in under a second); decoded it would take 240 MB as
    # uint8 and ~2 GB as float64
    Image.new("RGB", (10_000, 8_000), (128, 128, 128)).save(folder / "huge.jpg", quality=50)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVE" + b"junk" * 8)
    return {p.name: p for p in folder.iterdir()}


def _upload(page, index: int, path: Path) -> None:
    """Put `path` into the index-th file input (0 portrait, 1 speech) and wait until Gradio holds it."""
    page.locator("input[type=file]").nth(index).set_input_files(str(path))
    try:
        page.locator(f"[src*='{path.name}']").first.wait_for(state="attached", timeout=15_000)
    except Exception:  # noqa: BLE001 - some players show no element with the file's URL; give the upload time
        time.sleep(2)


def _generate_and_read_error(page, expected: str) -> str:
    for close in page.locator(".toast-close").all():
        close.click()
    page.get_by_role("button", name="Generate").click()
    toast = page.locator(".toast-body", has_text=expected)
    try:
        toast.first.wait_for(timeout=60_000)
    except Exception:  # noqa: BLE001 - show what the user saw instead
        seen = [t.inner_text() for t in page.locator(".toast-body").all()]
        pytest.fail(f"expected an error with {expected!r}; the page showed {seen}")
    return " ".join(toast.first.inner_text().split())


@pytest.mark.parametrize("portrait, speech, expected", [
    ("cut.jpg", None, "the file is damaged or truncated"),
    ("huge.jpg", None, "is too large (10000x8000 px = 80 megapixels"),
    ("portrait.jpg", "corrupt.wav", "could not decode audio file 'corrupt.wav'"),
])
def test_damaged_uploads_show_our_own_message(portrait, speech, expected, page, server, uploads):
    url, proc, log = server
    _upload(page, 0, uploads[portrait])
    if speech:
        _upload(page, 1, uploads[speech])
    message = _generate_and_read_error(page, expected)
    print(f"\n{portrait} {speech}: {message!r}; server memory {_memory_mb(proc.pid)} MB")
    assert message.count(expected) == 1
    visible = page.inner_text("body")
    for leak in ("/tmp", "gradio_api", "Errno", "upstream app"):
        assert leak not in visible, leak
    assert _memory_mb(proc.pid)["VmHWM"] < MAX_SERVER_MB
    logged = log.read_text()
    assert "Traceback" not in logged
    assert sum(expected in line and "input error:" in line for line in logged.splitlines()) == 1
