"""The systemd units shipped in scripts/systemd: systemd-analyze accepts them without a warning
(with ExecStart pointed at this checkout's motcua, since /opt/motcua is not installed here), and
what they pass to motcua exists: the settings they set and the commands they run."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from node.cli import main
from node.config import SETTINGS

UNITS = Path(__file__).resolve().parents[2] / "scripts" / "systemd"
NAMES = ("motcua.service", "motcua-backup.service", "motcua-backup.timer")
INSTALLED = "/opt/motcua/bin/motcua"
SECTIONS = {"Unit", "Service", "Timer", "Install"}


def parse(text: str) -> dict[str, list[tuple[str, str]]]:
    """A strict reading of the unit syntax: [Section] headers and Key=value lines only."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith(("#", ";")):
            continue
        header = re.fullmatch(r"\[(\w+)\]", line)
        if header:
            assert header.group(1) in SECTIONS, f"line {number}: unknown section {line}"
            current = sections.setdefault(header.group(1), [])
            continue
        pair = re.fullmatch(r"([A-Z][A-Za-z]+)=(.*)", line)
        assert pair and current is not None, f"line {number}: not Key=value inside a section: {line!r}"
        current.append((pair.group(1), pair.group(2)))
    return sections


def test_systemd_analyze_accepts_the_units(tmp_path):
    motcua = Path(sys.executable).parent / "motcua"
    assert motcua.exists(), f"{motcua} missing: run the tests from the project's venv"
    for name in NAMES:
        (tmp_path / name).write_text((UNITS / name).read_text().replace(INSTALLED, str(motcua)))
    analyze = shutil.which("systemd-analyze")
    if analyze is None:  # no systemd on this machine: the strict syntax reading below must do
        for name in NAMES:
            assert parse((tmp_path / name).read_text())
        return
    done = subprocess.run([analyze, "verify", *(str(tmp_path / n) for n in NAMES)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), done.stdout + done.stderr


def test_units_set_real_settings_and_run_real_commands():
    known = {f"MOTCUA_{s.name}" for s in SETTINGS}
    for name in NAMES:
        sections = parse((UNITS / name).read_text())
        for key, value in sections.get("Service", []):
            if key == "Environment":
                for assignment in value.split():
                    assert assignment.split("=", 1)[0] in known, f"{name}: {assignment}"
            if key == "ExecStart":
                program, *args = value.split()
                assert program == INSTALLED, f"{name}: {program}"
                command = [a for a in args if not a.startswith(("-", "/"))]
                help_text = CliRunner().invoke(main, [*command, "--help"])
                assert help_text.exit_code == 0, f"{name}: motcua {' '.join(command)}: {help_text.output}"
                options = [a for a in args if a.startswith("--")]
                assert all(o in help_text.output for o in options), f"{name}: {options}"
    assert ("WantedBy", "timers.target") in parse((UNITS / "motcua-backup.timer").read_text())["Install"]
