"""Fixtures of the web tests: a live federation, and a headless Chromium to read it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.web.live import LiveFederation

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def live():
    """Three real libraries, the real coordinator and its web pages (one per test module)."""
    root = Path(tempfile.mkdtemp(prefix="libfed-web-"))
    federation = LiveFederation(root).start()
    try:
        yield federation
    finally:
        federation.stop()
        shutil.rmtree(root, ignore_errors=True)


def _chrome(lang: str, javascript: bool = True):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed")
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    profile = tempfile.mkdtemp(prefix="libfed-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--lang={lang}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    prefs = {"intl.accept_languages": lang}
    if not javascript:
        prefs["profile.managed_default_content_settings.javascript"] = 2
    options.add_experimental_option("prefs", prefs)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    return driver, profile


@pytest.fixture
def browser():
    """A fresh headless Chromium whose reader prefers Russian (skips when absent)."""
    driver, profile = _chrome("ru-RU")
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def browser_without_js():
    """A headless Chromium with JavaScript switched off, as on an old or locked-down device."""
    driver, profile = _chrome("ru-RU", javascript=False)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
