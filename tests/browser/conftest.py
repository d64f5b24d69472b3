"""Browser tests: Playwright for Python driving Debian's chromium against real ``motcua serve``.

Never downloads a browser (``playwright install`` is impossible offline): it launches
``/usr/bin/chromium``, which ``./scripts/test`` installs. If chromium or the playwright package
is missing, every browser test FAILS with a message saying so; they are never skipped.

Screenshots of each page go to ``test-artifacts/browser/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scenarios.harness import MOTCUA, REPO, RealNode, clean_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts" / "browser"
PASSWORD = "mật khẩu thử nghiệm 2026"  # ≥ 12 characters, with diacritics on purpose


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"Debian's chromium is missing ({CHROMIUM}): run ./scripts/test, which installs it, "
                    "or apt-get install chromium. Browser tests are part of the default suite.")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        pytest.fail(f"the playwright package is missing ({e}): pip install -e '.[test]'")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def new_page(browser):
    """Pages with a Vietnamese locale; each test gets fresh cookies."""
    contexts = []

    def make():
        context = browser.new_context(locale="vi-VN", viewport={"width": 1200, "height": 900})
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for c in contexts:
        c.close()


def shot(page, name: str) -> Path:
    """Save a full-page screenshot as a test artifact and return its path."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def add_user(node: RealNode, username: str, role: str, name: str) -> None:
    result = subprocess.run(
        [*MOTCUA, "--data-dir", str(node.data_dir), "user", "add", "--username", username, "--role", role,
         "--name", name],
        input=f"{PASSWORD}\n{PASSWORD}\n", capture_output=True, text=True, timeout=60,
        env=clean_env(**node.env), check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def login(page, node: RealNode, username: str) -> None:
    page.goto(node.url + "/dang-nhap")
    page.fill("#f-username", username)
    page.fill("#f-password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    assert "/dang-nhap" not in page.url, page.content()[:2000]


def text_of(page, selector: str) -> str:
    return re.sub(r"\s+", " ", page.inner_text(selector)).strip()
