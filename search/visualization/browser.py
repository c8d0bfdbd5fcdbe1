"""Find a Chrome/Chromium and take headless screenshots of pages with it.

Frontier never downloads a browser: it uses ``BROWSER_PATH`` when set, else the first of
``chromium``, ``chromium-browser``, ``google-chrome`` or ``chrome`` on ``PATH`` (on Debian:
``apt-get install chromium``). Kaleido (see ``search.visualization.images``) is pointed at the
same browser.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from search.errors import FrontierError
from search.safe_files import write_bytes

__all__ = ["BROWSER_NAMES", "HEADLESS_FLAGS", "console_messages", "find_browser", "screenshot",
           "screenshot_png"]

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")

#: Flags for a headless run as root on a machine without network: without the background
#: networking ones Chromium stalls on its start-up requests.
HEADLESS_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars",
)

NOT_FOUND = ("no Chrome/Chromium found: install Debian's chromium (apt-get install chromium) or "
             "set BROWSER_PATH to a Chrome or Chromium executable")

_CONSOLE = re.compile(r":CONSOLE[^\]]*\]\s*(.*)$")


def find_browser() -> str:
    """Path of the Chrome/Chromium to use; a one-line FrontierError when there is none."""
    env = os.environ.get("BROWSER_PATH")
    if env:
        if Path(env).is_file() and os.access(env, os.X_OK):
            return env
        raise FrontierError(f"BROWSER_PATH: {env} is not an executable file; {NOT_FOUND}")
    for name in BROWSER_NAMES:
        path = shutil.which(name)
        if path:
            return path
    raise FrontierError(NOT_FOUND)


def console_messages(stderr: str) -> list[str]:
    """The page's console messages (logs, errors, uncaught exceptions, failed loads) in
    Chromium's ``--enable-logging=stderr`` output."""
    return [m.group(1) for line in stderr.splitlines() if (m := _CONSOLE.search(line))]


def screenshot_png(html: str | Path, *, width: int = 1280, height: int = 2000,
                   timeout: float = 120) -> tuple[bytes, list[str]]:
    """Load ``html`` in headless Chromium (network blocked), wait for its scripts, and take a
    ``width`` × ``height`` screenshot. Returns the PNG's bytes and the page's console messages;
    writes nothing outside a temporary folder."""
    page = Path(html).resolve()
    if not page.is_file():
        raise FrontierError(f"{html}: no such HTML file to screenshot")
    browser = find_browser()
    with tempfile.TemporaryDirectory(prefix="frontier-chromium-") as profile:
        out = Path(profile) / "screenshot.png"
        cmd = [browser, *HEADLESS_FLAGS, f"--user-data-dir={profile}",
               "--host-resolver-rules=MAP * ~NOTFOUND",  # an offline page must not need any host
               "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000",
               f"--window-size={width},{height}", f"--screenshot={out}", page.as_uri()]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                 check=False)
        except subprocess.TimeoutExpired as err:
            msg = f"{browser}: no screenshot of {html} within {timeout:.0f} s"
            raise FrontierError(msg) from err
        if res.returncode != 0 or not out.is_file():
            tail = res.stderr.strip().splitlines()[-1:] or ["no output"]
            raise FrontierError(f"{browser}: screenshot of {html} failed (exit "
                                f"{res.returncode}): {tail[0]}")
        return out.read_bytes(), console_messages(res.stderr)


def screenshot(html: str | Path, png: str | Path, *, width: int = 1280, height: int = 2000,
               timeout: float = 120) -> list[str]:
    """:func:`screenshot_png` of ``html`` saved to ``png`` (atomically, never through a
    symlink). Returns the page's console messages."""
    data, console = screenshot_png(html, width=width, height=height, timeout=timeout)
    write_bytes(png, data)
    return console
