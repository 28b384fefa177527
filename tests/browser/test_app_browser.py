"""`infvideo app` in a real browser: headless Chromium (Debian's `chromium` + `chromium-driver`, never a
downloaded browser) driven by Selenium against the app served on loopback by a subprocess.

Not part of the main suite (pyproject's norecursedirs): `make test-app-browser` installs the app extra,
Selenium and the browser, then runs these. The tests run in file order, one page, as a person would:
load, demo video, question, new tau, bad upload, good upload, stop.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT = 180  # seconds for one step on a loaded 2-core machine (the tiny model answers in a few)
# Chromium on a machine without a network: no background connections, no first-run work (see docs/app.md).
CHROMIUM_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking "
    "--disable-component-update --disable-sync --disable-dev-shm-usage --window-size=1400,1500"
).split()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app in a subprocess, its temporary files under its own TMPDIR (so the last test can check they go)."""
    tmp = tmp_path_factory.mktemp("server-tmp")
    port = _free_port()
    log = (tmp.parent / "server.log").open("w")
    env = {**os.environ, "TMPDIR": str(tmp), "GRADIO_ANALYTICS_ENABLED": "False"}
    command = [sys.executable, "-m", "infvideo.cli", "app", "--port", str(port), "--max-upload-mb", "5", "generation.max_new_tokens=8"]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + WAIT
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the app did not start: {(tmp.parent / 'server.log').read_text()[-3000:]}")
        time.sleep(0.5)
    yield {"url": url, "process": process, "tmp": tmp, "log": tmp.parent / "server.log"}
    if process.poll() is None:
        process.kill()
        process.wait(30)
    log.close()


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.get(server["url"])
    yield driver
    driver.quit()


def text(driver, element_id: str) -> str:
    return driver.find_element(By.ID, element_id).text


def wait_for(driver, condition, what: str):
    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.25).until(lambda d: condition(d))
    except Exception as error:
        raise AssertionError(f"waited {WAIT} s for {what}; status: {text(driver, 'status')!r}") from error


def figure_source(driver) -> str | None:
    images = driver.find_elements(By.CSS_SELECTOR, "#density img")
    return images[0].get_attribute("src") if images else None


def set_number(driver, selector: str, value: str) -> None:
    box = driver.find_element(By.CSS_SELECTOR, selector)
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(value)
    box.send_keys(Keys.TAB)  # leaving the box releases the slider: the last question is answered again


def test_page_loads_with_the_tiny_notice(browser):
    wait_for(browser, lambda d: "encoder calls: 0" in text(d, "status"), "the status line")
    assert "no video loaded" in text(browser, "status")
    assert "answers are noise" in text(browser, "notice")


def test_the_demo_video_is_encoded_once(browser):
    browser.find_element(By.ID, "demo-button").click()
    wait_for(browser, lambda d: "video ready" in text(d, "status"), "the demo video to be encoded")
    status = text(browser, "status")
    assert "demo video" in status and "8 chunks" in status and "encoder calls: 8" in status


def test_a_question_gets_an_answer_a_figure_and_peak_frames(browser, server):
    browser.find_element(By.CSS_SELECTOR, "#question textarea").send_keys("what colour is the first square?")
    browser.find_element(By.CSS_SELECTOR, "#options textarea").send_keys("red\ngreen\nblue")
    browser.find_element(By.ID, "ask-button").click()
    wait_for(browser, lambda d: figure_source(d) is not None and "answered" in text(d, "status"), "the answer and its figure")
    answer = text(browser, "answer")
    assert "Q: what colour is the first square?" in answer and "A:" in answer
    assert "Chosen option: (" in answer and "tau 0.75" in answer
    assert len(browser.find_elements(By.CSS_SELECTOR, "#peaks img")) >= 1
    with urllib.request.urlopen(figure_source(browser), timeout=10) as response:  # the figure is served, and is a PNG
        assert response.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "encoder calls: 8" in text(browser, "status")
    if os.environ.get("APP_SCREENSHOT"):  # scripts/app_browser_test.sh --screenshot: the picture in docs/ and the README
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(os.environ["APP_SCREENSHOT"])


def test_another_tau_gives_a_new_figure_without_encoding(browser):
    before = figure_source(browser)
    set_number(browser, "#tau input[type=number]", "0.3")
    wait_for(browser, lambda d: figure_source(d) not in (None, before), "a new figure after changing tau")
    wait_for(browser, lambda d: "tau 0.3" in text(d, "answer"), "the answer with tau 0.3")
    assert "encoder calls: 8" in text(browser, "status")  # the vision encoder did not run again


def test_a_text_file_uploaded_as_video_shows_the_error_and_the_app_keeps_serving(browser, server, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("this is not a video\n")
    browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(bad))
    wait_for(browser, lambda d: "error:" in text(d, "status"), "the upload's error")
    status = text(browser, "status")
    assert "notes.txt is not a video this app can read" in status
    assert "demo video" in status and "encoder calls: 8" in status  # the demo video is still loaded
    assert server["process"].poll() is None
    # still serving: the same question about the demo video is answered again
    before = figure_source(browser)
    browser.find_element(By.ID, "ask-button").click()
    wait_for(browser, lambda d: figure_source(d) not in (None, before), "an answer after the bad upload")
    assert "encoder calls: 8" in text(browser, "status")


def test_a_video_upload_is_encoded(browser, tmp_path):
    from infvideo.demo.synthetic_data import DemoSettings, write_video

    clip = write_video(tmp_path / "clip.mp4", DemoSettings(seconds=40, fps=4))
    browser.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(str(clip))
    wait_for(browser, lambda d: "clip.mp4" in text(d, "status") and "video ready" in text(d, "status"), "the upload to be encoded")
    assert "encoder calls: 16" in text(browser, "status")  # 8 more chunks, once


def test_stopping_the_server_removes_its_temporary_files(server):
    folders = list(Path(server["tmp"]).glob("infvideo-app-*"))
    assert len(folders) == 1 and any(folders[0].rglob("clip.mp4"))  # uploads live in the session's folder
    server["process"].send_signal(signal.SIGTERM)
    assert server["process"].wait(60) == 0
    assert not folders[0].exists()
