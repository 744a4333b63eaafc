"""The web demo in a real browser: `python app.py` with the real pipeline, driven by Debian's chromium through
Playwright (software WebGL: SwiftShader). At 1400 x 1000 px the Generate button and the outputs are above the
fold; the preview follows the yaw slider; Generate with the defaults gives a playable video and downloads that
parse (.ply header, ARKit CSV columns); the 3D viewer draws a non-blank head, turns with a drag and plays its
animation in step with the audio (the last frame shown at the end, drift under one frame).
Damaged uploads must show our own one-line message (never Gradio's generic one, a server path or an
errno), the server must log each as one line without a traceback, and an 80-megapixel upload must be refused
from its header (the server's peak memory stays under 1.5 GB).

Skipped when /usr/bin/chromium or the `playwright` package is missing (`.ci/run` installs chromium when it can;
never run `playwright install`)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import data

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                 "--autoplay-policy=no-user-gesture-required", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1400, "height": 1000}
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
        page = browser.new_page(viewport=VIEWPORT)
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


def _png(data: bytes):
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def test_generate_and_outputs_are_above_the_fold(page):
    """Generate, the status line and the output tabs are visible without scrolling at 1400 x 1000."""
    for selector in ("#vasa3d-generate", "#vasa3d-video", "#vasa3d-preview"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["y"] + min(box["height"], 60) < VIEWPORT["height"], selector
    generate, video = page.locator("#vasa3d-generate").bounding_box(), page.locator("#vasa3d-video").bounding_box()
    assert abs(generate["x"] - video["x"]) < 40          # the button sits on top of the output column


def test_preview_follows_the_yaw_slider(page):
    note = page.locator("#vasa3d-preview-note")
    note.get_by_text("yaw +0").wait_for(timeout=90_000)        # the avatar is built once, at page load
    shots = {}
    for yaw in (-30, 30):
        field = page.locator("#vasa3d-yaw input[type=number]")
        field.fill(str(yaw))
        field.press("Enter")
        t0 = time.monotonic()
        note.get_by_text(f"yaw {yaw:+d}").wait_for(timeout=30_000)
        print(f"\npreview at yaw {yaw:+d}: {time.monotonic() - t0:.2f} s in the browser")
        time.sleep(0.3)
        shots[yaw] = _png(page.locator("#vasa3d-preview img").screenshot())
    assert abs(shots[-30] - shots[30]).mean() > 3


@pytest.fixture(scope="module")
def generated(page, server):
    """Generate with the defaults (yaw back at 0); returns the seconds it took."""
    field = page.locator("#vasa3d-yaw input[type=number]")
    field.fill("0")
    field.press("Enter")
    t0 = time.monotonic()
    page.get_by_role("button", name="Generate").click()
    status = page.locator("#vasa3d-status")
    while time.monotonic() - t0 < 150:   # note when the video first shows a frame, and whether the run was done
        if STREAMED.get("first_frame_s") is None and page.evaluate(
                "(document.querySelector('#vasa3d-video video') || {}).readyState >= 2"):
            STREAMED["first_frame_s"] = time.monotonic() - t0
            STREAMED["before_done"] = "Done." not in status.inner_text()
        if "Done." in status.inner_text():
            break
        time.sleep(0.1)
    status.get_by_text("Done.").wait_for(timeout=5_000)
    return time.monotonic() - t0


STREAMED: dict = {}
"""What the `generated` fixture saw of the streaming video: first_frame_s after the click, before_done."""


def test_generate_with_defaults_gives_a_playable_video(page, generated):
    video = page.locator("#vasa3d-video video")
    video.wait_for(timeout=30_000)
    page.wait_for_function("document.querySelector('#vasa3d-video video').readyState >= 1", timeout=30_000)
    duration, width = page.evaluate("[document.querySelector('#vasa3d-video video').duration, "
                                    "document.querySelector('#vasa3d-video video').videoWidth]")
    print(f"\ngenerate: {generated:.1f} s; video {duration:.2f} s, {width} px wide")
    assert duration > 1.0 and width == 512


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="Gradio streams video with ffmpeg + ffprobe")
def test_the_video_plays_while_it_renders(page, generated):
    """Streaming: the first frames are on screen before the run is done (Gradio's HLS output, fed 0.5-1 s mp4
    segments as the pipeline finishes them), and the finished mp4 is offered as a download."""
    print(f"\nfirst frame on screen {STREAMED.get('first_frame_s')} s after Generate, whole run {generated:.1f} s")
    assert STREAMED.get("before_done") is True
    assert page.locator("#vasa3d-mp4 a[href]").count() >= 1


def _download(page, server, elem_id: str) -> bytes:
    href = page.locator(f"#{elem_id} a[href]").first.get_attribute("href")
    url = href if href.startswith("http") else server[0].rstrip("/") + "/" + href.lstrip("/")
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def test_downloads_exist_and_parse(page, server, generated):
    import csv
    import io

    ply = _download(page, server, "vasa3d-ply")
    header = ply[:ply.index(b"end_header\n")].decode("ascii").splitlines()
    count = int(next(line for line in header if line.startswith("element vertex")).split()[-1])
    props = [line.split()[-1] for line in header if line.startswith("property")]
    assert header[0] == "ply" and count > 10_000 and {"x", "f_dc_0", "opacity", "scale_0", "rot_0"} <= set(props)
    assert len(ply) >= count * len(props) * 4
    rows = list(csv.reader(io.StringIO(_download(page, server, "vasa3d-csv").decode("utf-8"))))
    assert rows[0][:2] == ["Timecode", "BlendShapeCount"] and {"JawOpen", "EyeBlinkLeft"} <= set(rows[0])
    assert len(rows) > 25 and len({len(r) for r in rows}) == 1
    assert page.locator("#vasa3d-plot img").count() == 1


def _viewer_frame(page):
    page.get_by_role("tab", name="3D viewer (drag to turn)").click()
    page.locator("#vasa3d-viewer").wait_for(timeout=10_000)
    deadline = time.monotonic() + 180       # software WebGL on a busy machine: the first drawing can take a while
    clicked = time.monotonic()
    while time.monotonic() < deadline:
        frame = next((f for f in page.frames if "viewer/index.html" in f.url and "data=" in f.url), None)
        if frame is None and time.monotonic() - clicked > 10:   # a click lost while the page re-rendered
            page.get_by_role("tab", name="3D viewer (drag to turn)").click()
            clicked = time.monotonic()
        if frame is not None:
            try:
                if frame.evaluate("window.vasa3dViewer && (vasa3dViewer.ready || vasa3dViewer.error)"):
                    assert frame.evaluate("vasa3dViewer.error") is None
                    return frame
            except Exception:  # noqa: BLE001 - the frame is still loading
                pass
        time.sleep(0.25)
    frames = [(f.url[-160:], f.evaluate("JSON.stringify(window.vasa3dViewer || null)")) for f in page.frames
              if "viewer/index.html" in f.url]
    box = page.locator("#vasa3d-viewer-box").inner_html()[:600]
    pytest.fail(f"the 3D viewer did not load: {frames}; its box holds: {box}")


def _wait_renders(frame, more: int = 2) -> None:
    """Wait until the viewer has drawn `more` frames after now (software WebGL on a busy machine: seconds each)."""
    frame.wait_for_function(f"vasa3dViewer.renders >= {frame.evaluate('vasa3dViewer.renders') + more}",
                            timeout=60_000)


def test_viewer_draws_a_head_that_turns_with_a_drag_and_plays_in_sync(page, generated):
    frame = _viewer_frame(page)
    canvas = page.locator("#vasa3d-viewer")
    _wait_renders(frame)
    for _ in range(20):   # the splats arrive and sort over a few drawings (software WebGL): wait for the head
        before = _png(canvas.screenshot())
        background = before[5:15, -15:-5].reshape(-1, 3).mean(0)       # top right: no overlay text there
        head = abs(before - background).sum(2) > 40
        if head.mean() > 0.2:
            break
        _wait_renders(frame, 1)
    print(f"\nviewer canvas: {head.mean():.0%} of its pixels differ from the background")
    assert head.mean() > 0.2 and before[head].std() > 20       # a large, textured head, not a blank canvas
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 60, y, steps=6)
    page.mouse.up()
    assert frame.evaluate("vasa3dViewer.yawDeg") > 15
    _wait_renders(frame)
    after = _png(canvas.screenshot())
    assert abs(after - before).mean() > 3
    # play the whole speech: the frame is taken from the audio clock at every drawing, so each drawn frame is
    # within one frame of the sound and the last frame shows once the audio has ended
    frame.evaluate("vasa3dViewer.setView(0, 0); document.getElementById('audio').play()")
    frame.wait_for_function("document.getElementById('audio').ended", timeout=60_000)
    _wait_renders(frame, 1)
    stats = frame.evaluate("({frame: vasa3dViewer.frame, frames: vasa3dViewer.numFrames, fps: vasa3dViewer.fps, "
                           "drift: vasa3dViewer.maxDriftFrames, n: vasa3dViewer.numGaussians, "
                           "poseMs: vasa3dViewer.poseMs, drawnWhilePlaying: vasa3dViewer.syncLog.length})")
    print(f"viewer: {stats}")
    assert stats["frame"] == stats["frames"] - 1 and stats["drift"] < 1.0 and stats["drawnWhilePlaying"] >= 1


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


def test_readme_api_example_against_the_running_app(server, tmp_path):
    """The README's "Use via API" example, as written there, against the running app."""
    pytest.importorskip("gradio_client")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"## Use via API.*?```python\n(.*?)```", readme, re.S).group(1)
    code = code.replace("http://localhost:7860/", server[0]).replace("portrait.jpg", str(
        data("portraits/p04_einstein_bw.jpg")))
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)   # noqa: S102 - our own README's example
    video, status, ply, csv_path = (Path(namespace["video"]), namespace["status"], Path(namespace["ply"]),
                                    Path(namespace["csv_path"]))
    assert video.read_bytes()[4:8] == b"ftyp" and "Done." in status
    assert ply.read_bytes()[:4] == b"ply\n" and csv_path.read_text().startswith("Timecode,BlendShapeCount")
