"""The web app in a real browser: Voilà serves notebook 05, headless Chromium uploads files.

Needs Debian's `chromium` (`make browser` installs it). Outside CI the test skips
without it; in CI its absence is a failure.
"""

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

from medcnn.config import project_root, raw_dir
from medcnn.data.manifest import read_manifest
from medcnn.ui.widget import STATIC_NOTE
from tests.test_studies_release import STUDIES, class_slices
from tests.test_volumes import nifti_bytes

NOTEBOOK = project_root() / "notebooks" / "05_predict.ipynb"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
pytestmark = [pytest.mark.browser, pytest.mark.mirror]  # uploads held-out images


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing: `make browser` installs it")
        pytest.skip("no chromium: run `make browser`")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_served(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Voilà exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"Voilà did not answer on {url} within {seconds} s")


@pytest.fixture(scope="module")
def voila_url(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("voila") / "voila.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "voila",
                str(NOTEBOOK),
                "--no-browser",
                f"--port={port}",
                "--Voila.ip=127.0.0.1",
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=NOTEBOOK.parent,
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_until_served(url, process)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def brain_test_image() -> Path:
    manifest = read_manifest()
    row = manifest[(manifest["split"] == "test") & (manifest["label"] == "brain")].iloc[0]
    return raw_dir() / row["path"]


def test_upload_shows_the_class_and_the_clear_error(voila_url, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    executable = chromium()
    brain = tmp_path / "brain_scan.jpg"
    shutil.copy(brain_test_image(), brain)
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 64)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = uploaded_page(browser, voila_url, [brain, corrupt])
            verdict = page.get_by_text(re.compile(r"brain_scan\.jpg: brain \(\d+%\)"))
            expect(verdict).to_be_visible(timeout=120_000)
            error = page.locator("p", has_text="corrupt.png")
            expect(error).to_be_visible(timeout=60_000)
            assert "Traceback" not in page.content()
            assert len(error.inner_text().splitlines()) == 1
            assert STATIC_NOTE.split(":")[0] not in page.content()  # the page is live
        finally:
            browser.close()


def uploaded_page(browser, voila_url: str, files: list[Path]):
    """The Voilà page with `files` chosen in its upload button, as a person would."""
    page = browser.new_page()
    page.goto(voila_url, timeout=180_000)
    button = page.locator("button.widget-upload").first
    button.wait_for(state="visible", timeout=180_000)
    with page.expect_file_chooser() as chooser:
        button.click()  # the file input only appears on click
    chooser.value.set_files([str(file) for file in files])
    return page


def brain_volume(path: Path) -> Path:
    """A NIfTI volume of held-out brain MRI slices of one source."""
    path.write_bytes(nifti_bytes(class_slices("brain", STUDIES["brain"]).astype("int16")))
    return path


def test_a_volume_upload_shows_one_study_verdict(voila_url, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    executable = chromium()
    volume = brain_volume(tmp_path / "brain_volume.nii.gz")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = uploaded_page(browser, voila_url, [volume])
            verdict = page.get_by_text(
                re.compile(r"brain_volume\.nii\.gz: brain \(\d+%\), \d+ of \d+ slices")
            )
            expect(verdict).to_be_visible(timeout=120_000)
            expect(page.get_by_text(re.compile(r"Grad-CAM for brain, slice \d+"))).to_be_visible()
            assert "Traceback" not in page.content()
        finally:
            browser.close()
