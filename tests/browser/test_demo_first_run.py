"""Issue 13.1 in a real browser: ``./scripts/demo`` on a fresh directory prints each node's UI
address with a demo account, and within 90 s of starting it a person signs in to every node
with what it printed. The seed holds no duplicate conflict; starting it with another
``DEMO_BASE_PORT`` refuses before stopping anything; a stop takes seconds.

Ports: DEMO_TEST_BASE_PORT when set (a shared machine gives each engineer a range), else free
ephemeral ones.
"""

from __future__ import annotations

import os
import re
import subprocess
import time

from tests.browser.conftest import shot
from tests.integration.test_demo import ROOT, free_base_port

DEMO = str(ROOT / "scripts" / "demo")
LANDING = {"district": "/quan-tri/", "commune": "/mot-cua/", "mobile": "/luu-dong/"}


def test_the_demo_prints_accounts_a_person_can_sign_in_with(tmp_path, browser):
    base = int(os.environ.get("DEMO_TEST_BASE_PORT") or free_base_port())
    # The demo ignores MOTCUA_* variables (it unsets them); the motcua commands below must see the
    # nodes as the demo does, e.g. find the unlock cache where the demo left it (RUNTIME_DIR).
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")},
           "DEMO_BASE_PORT": str(base), "DEMO_DATA_DIR": str(tmp_path / "demo"),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    started = time.monotonic()
    try:
        result = subprocess.run([DEMO], env=env, capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        printed = re.findall(r"^\s+(district|commune|mobile)\s+(https://\S+)/\s+user (\S+)\s+password (\S+)",
                             result.stdout, re.M)
        assert {node for node, *_ in printed} == {"district", "commune", "mobile"}, result.stdout
        assert "Repeat for confirmation" not in result.stdout + result.stderr
        context = browser.new_context(locale="vi-VN", ignore_https_errors=True)  # the demo CA's own certificate
        try:
            for node, url, user, password in printed:
                page = context.new_page()
                page.goto(url + "/dang-nhap")
                page.fill("#f-username", user)
                page.fill("#f-password", password)
                page.click("button[type=submit]")
                page.wait_for_load_state()
                assert "/dang-nhap" not in page.url, (node, user, page.content()[:1500])
                assert page.url.startswith(url + LANDING[node]), page.url
                shot(page, f"i13-20-demo-{node}-{user}")
                context.clear_cookies()
        finally:
            context.close()
        assert time.monotonic() - started < 90, f"demo + sign-ins took {time.monotonic() - started:.0f} s"
        for node in ("district", "commune", "mobile"):
            listed = subprocess.run([str(ROOT / ".venv" / "bin" / "motcua"), "--data-dir",
                                     str(tmp_path / "demo" / node), "conflicts", "list", "--status", "all"],
                                    env=env, capture_output=True, text=True, timeout=60, check=False)
            # the CLI speaks Vietnamese by default (issue 13.5), as it does for the office's staff
            assert listed.stdout.strip().endswith("0 xung đột"), (node, listed.stdout)

        other = subprocess.run([DEMO], env={**env, "DEMO_BASE_PORT": str(base + 10)}, capture_output=True,
                               text=True, timeout=60, check=False)
        assert other.returncode != 0 and "left running" in other.stderr, other.stdout + other.stderr
        status = subprocess.run([DEMO, "status"], env=env, capture_output=True, text=True, timeout=60, check=False)
        assert status.returncode == 0, status.stdout  # still running
    finally:
        t0 = time.monotonic()
        subprocess.run([DEMO, "stop"], env=env, capture_output=True, timeout=60, check=False)
        stop_seconds = time.monotonic() - t0
    assert stop_seconds < 10, f"stop took {stop_seconds:.1f} s"
