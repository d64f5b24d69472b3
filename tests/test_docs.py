"""The README documents every setting and every CLI command (the Datasette habit)."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.cli import main
from node.config import SETTINGS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [s.name for s in SETTINGS])
def test_setting_is_documented(name):
    assert f"MOTCUA_{name}" in README


@pytest.mark.parametrize("command", sorted(main.commands))
def test_command_is_documented(command):
    assert f"motcua {command}" in README


def test_readme_starts_with_the_two_setup_commands():
    setup = README.index("## Set up")
    next_section = README.index("## ", setup + 5)
    assert README.index("./scripts/demo", setup) < README.index("./scripts/test", setup) < next_section


def test_readme_points_to_docs_that_exist():
    """Issue 13.10: the architecture, domain and operations notes are in docs/ and linked."""
    import re

    root = Path(__file__).resolve().parents[1]
    linked = set(re.findall(r"\]\((docs/[\w./-]+\.md)\)", README))
    assert {"docs/architecture.md", "docs/domain.md", "docs/operations.md"} <= linked
    assert all((root / path).is_file() for path in linked), linked


@pytest.mark.parametrize("phrase", ["being built", "still to come", "not built yet"])
def test_readme_promises_nothing_that_exists(phrase):
    assert phrase not in README.lower()
