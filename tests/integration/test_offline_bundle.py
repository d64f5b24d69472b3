"""scripts/offline-bundle: the folder installs motcua into a fresh venv with pip --no-index, and
the installed command creates and checks a node. Building the bundle needs PyPI (or the wheel
cache of an earlier run); installing it needs nothing but the folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
NO_NETWORK = {  # any attempt to reach an index would fail at once
    "PIP_INDEX_URL": "http://127.0.0.1:9/simple", "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9", "PIP_DEFAULT_TIMEOUT": "2",
}


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=env, check=False)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MOTCUA_", "PIP_", "VIRTUAL_ENV")) and k != "DATABASE_URL"}
    return {**env, **extra}


def test_offline_bundle_installs_without_an_index_and_runs(tmp_path):
    bundle = tmp_path / "bundle"
    built = run("bash", str(REPO / "scripts" / "offline-bundle"), str(bundle),
                env=clean_env(PYTHON=sys.executable))
    assert built.returncode == 0, f"offline-bundle failed (it needs PyPI or a warm cache):\n{built.stderr}"
    wheels = sorted(p.name for p in (bundle / "wheels").iterdir())
    assert any(w.startswith("motcua-") for w in wheels) and any(w.startswith("pip-") for w in wheels)
    assert all(w.endswith(".whl") for w in wheels)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"python {version}" in (bundle / "BUNDLE").read_text()

    prefix = tmp_path / "opt-motcua"
    installed = run("sh", str(bundle / "install.sh"), "--prefix", str(prefix),
                    env=clean_env(PYTHON=sys.executable, **NO_NETWORK))
    assert installed.returncode == 0, installed.stdout + installed.stderr
    motcua = str(prefix / "bin" / "motcua")
    assert run(motcua, "--version").stdout.startswith("motcua, version ")
    home = clean_env(XDG_STATE_HOME=str(tmp_path / "state"), MOTCUA_LANG="en")  # the English lines below
    data = str(tmp_path / "data")
    init = run(motcua, "--data-dir", data, "init", "--role", "commune", "--unit", "17272", "--name", "Xã Tân Phú",
               env=home)
    assert init.returncode == 0, init.stderr
    doctor = run(motcua, "--data-dir", data, "doctor", env=home)
    assert doctor.returncode == 0 and "0 problem(s)" in doctor.stdout, doctor.stdout + doctor.stderr

    # A damaged or mismatched bundle is refused before anything is installed.
    wheel = next((bundle / "wheels").glob("motcua-*.whl"))
    wheel.write_bytes(wheel.read_bytes() + b"\0")
    damaged = run("sh", str(bundle / "install.sh"), "--prefix", str(tmp_path / "other"),
                  env=clean_env(PYTHON=sys.executable))
    assert damaged.returncode != 0 and "damaged" in damaged.stderr and not (tmp_path / "other").exists()
    (bundle / "BUNDLE").write_text("motcua 0\npython 3.99\n")
    mismatch = run("sh", str(bundle / "install.sh"), "--prefix", str(tmp_path / "other"),
                   env=clean_env(PYTHON=sys.executable))
    assert mismatch.returncode != 0 and "for Python 3.99" in mismatch.stderr
