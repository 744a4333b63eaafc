"""Screenshots of the web demo in a real browser (Debian's chromium through Playwright, software WebGL).

Starts `python app.py` on a free local port, drives it at 1400 x 1000 px and writes into --out:
  01_load.png             the page after loading (the example portrait and its preview),
  02_preview_yaw-30.png,
  03_preview_yaw+30.png   the page with the preview at yaw -30 and +30 degrees,
  04_video.png            the finished video (Generate with the defaults),
  05_viewer_yaw-25.png,
  06_viewer_yaw+30.png    the 3D viewer mid-animation (paused half-way through the speech) from two angles,
  07_error.png            the message for a damaged upload.
--readme also copies 05 to assets/demo.png (the README's picture). Needs /usr/bin/chromium and the playwright
package (never `playwright install`). Usage: python assets/make_demo_screenshots.py [--out DIR] [--readme]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
        "--autoplay-policy=no-user-gesture-required"]
VIEWPORT = {"width": 1400, "height": 1000}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_app(folder: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
               GRADIO_ANALYTICS_ENABLED="False")
    log = open(folder / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, stdout=log, stderr=subprocess.STDOUT,
                            cwd=folder)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"the app did not start; see {folder / 'server.log'}")
            time.sleep(0.5)


def _set_yaw(page, yaw: int) -> None:
    field = page.locator("#vasa3d-yaw input[type=number]")
    field.fill(str(yaw))
    field.press("Enter")
    page.locator("#vasa3d-preview-note").get_by_text(f"yaw {yaw:+d}").wait_for(timeout=60_000)
    time.sleep(0.5)


def _viewer(page):
    page.get_by_role("tab", name="3D viewer (drag to turn)").click()
    deadline = time.monotonic() + 240                  # software WebGL on a busy machine can take a while
    frame = None
    clicked = time.monotonic()
    while time.monotonic() < deadline:
        frame = next((f for f in page.frames if "viewer/index.html" in f.url and "data=" in f.url), None)
        if frame is None and time.monotonic() - clicked > 10:   # a click lost while the page re-rendered
            page.get_by_role("tab", name="3D viewer (drag to turn)").click()
            clicked = time.monotonic()
        if frame is not None and frame.evaluate("!!(window.vasa3dViewer && (vasa3dViewer.ready || vasa3dViewer.error))"):
            if frame.evaluate("vasa3dViewer.error"):
                raise SystemExit(f"the 3D viewer failed: {frame.evaluate('vasa3dViewer.error')}")
            return frame
        time.sleep(0.25)
    state = frame.evaluate("JSON.stringify(window.vasa3dViewer || null)") if frame is not None else "no frame"
    raise SystemExit(f"the 3D viewer did not load: {state}")


def take(out: Path) -> list[Path]:
    """Write the screenshots into `out`; returns their paths."""
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="vasa3d-screenshots-"))
    proc, url = _start_app(work)
    shots = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(url)
            page.locator("#vasa3d-preview-note").get_by_text("yaw +0").wait_for(timeout=120_000)

            def shot(name: str) -> None:
                shots.append(out / name)
                page.screenshot(path=str(shots[-1]))

            shot("01_load.png")
            for yaw, name in ((-30, "02_preview_yaw-30.png"), (30, "03_preview_yaw+30.png")):
                _set_yaw(page, yaw)
                shot(name)
            _set_yaw(page, 0)
            page.get_by_role("button", name="Generate").click()
            page.locator("#vasa3d-status").get_by_text("Done.").wait_for(timeout=300_000)
            # a streamed video: its duration is known once the stream has ended
            page.wait_for_function("(v => v && v.readyState >= 2 && isFinite(v.duration))"
                                   "(document.querySelector('#vasa3d-video video'))", timeout=60_000)
            page.evaluate("(() => { const v = document.querySelector('#vasa3d-video video'); "
                          "v.currentTime = v.duration / 2; })()")
            time.sleep(1.0)
            shot("04_video.png")
            frame = _viewer(page)
            frame.evaluate("(() => { const a = document.getElementById('audio'); a.currentTime = a.duration / 2; "
                           "a.pause(); })()")
            for yaw, pitch, name in ((-25, 5, "05_viewer_yaw-25.png"), (30, -5, "06_viewer_yaw+30.png")):
                frame.evaluate(f"vasa3dViewer.setView({yaw}, {pitch})")
                time.sleep(3.0)                       # SwiftShader: a few seconds per re-sorted frame
                shot(name)
            page.get_by_role("tab", name="Video").click()
            damaged = work / "damaged.jpg"
            damaged.write_bytes((ROOT / "assets" / "examples" / "einstein_1904_bw.jpg").read_bytes()[:5000])
            page.locator("input[type=file]").nth(0).set_input_files(str(damaged))
            time.sleep(2.0)
            page.get_by_role("button", name="Generate").click()
            page.locator(".toast-body", has_text="damaged").first.wait_for(timeout=60_000)
            time.sleep(0.5)
            shot("07_error.png")
            browser.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("demo_screenshots"), help="folder for the PNGs")
    parser.add_argument("--readme", action="store_true", help="also copy the viewer shot to assets/demo.png")
    args = parser.parse_args()
    shots = take(args.out)
    for path in shots:
        print(path)
    if args.readme:
        shutil.copyfile(args.out / "05_viewer_yaw-25.png", ROOT / "assets" / "demo.png")
        print(ROOT / "assets" / "demo.png")


if __name__ == "__main__":
    main()
