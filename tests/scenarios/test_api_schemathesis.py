"""schemathesis against a real served node (issue 14.6): ``motcua serve`` with accounts and an
API token, the OpenAPI description it serves, and schemathesis's default checks (no server
error, status codes, content types, headers and bodies as documented, schema-violating input
refused, authentication enforced), with the one change that tests/scenarios/schemathesis.toml
explains. Every phase runs (coverage, fuzzing, stateful); the examples per operation are bounded
so the test takes about a minute (``SCHEMATHESIS_MAX_EXAMPLES`` to run more).

It prints how many test cases schemathesis generated, how many API requests the node served,
and how many failures were found; any failure, and any 5xx in the node's access log, fails it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import sample_dossier
from tests.scenarios.harness import RealNode, call, clean_env
from web.openapi import OPERATIONS

CONFIG = Path(__file__).with_name("schemathesis.toml")
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "25"))
# node/wsgi.py's access log: '"GET /api/v1/dossiers" 200' (no protocol since the query string was dropped)
ACCESS = re.compile(r'"(?P<method>[A-Z]+) (?P<path>/api/v1/\S*?)(?: HTTP/[0-9.]+)?" (?P<status>\d{3}) ')


@pytest.mark.parametrize("role", ["commune", pytest.param("district", marks=pytest.mark.slow)])
def test_schemathesis_finds_no_failure_against_a_served_node(role, tmp_path, capsys):
    """A commune node with a head of office's token (the role that calls every write); a district
    hub with a district admin's in the extended run (``-m slow``)."""
    node = RealNode("Xã Thử Nghiệm", role, "17272" if role == "commune" else "40", tmp_path / "node")
    node.data_dir.mkdir(parents=True)
    node.init()
    token = node.api_token()
    node.start()
    try:
        if role == "commune":
            assert call(node, "POST", "/api/v1/dossiers", sample_dossier())[0] == 201  # something to read
        report = tmp_path / "schemathesis.json"
        command = [
            sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run",
            f"{node.url}/api/v1/openapi.json", "--header", f"Authorization: Bearer {token}",
            "--max-examples", str(MAX_EXAMPLES), "--workers", "1", "--request-timeout", "20",
            "--generation-database", "none", "--report", "json", "--report-json-path", str(report), "--no-color",
        ]
        run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                             env=clean_env())
        log = (node.data_dir / "serve.log").read_text(errors="replace")
    finally:
        node.stop()
    assert report.exists(), run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads(report.read_text())
    served = [m.groupdict() for m in ACCESS.finditer(log)]
    server_errors = [f"{s['method']} {s['path']} {s['status']}" for s in served if s["status"].startswith("5")]
    cases = result["test_cases"]
    with capsys.disabled():
        print(f"\nschemathesis {result['schemathesis_version']}: {cases['generated']} test cases generated, "
              f"{len(served)} API requests served, {cases['with_failures']} with failures "
              f"({cases['unique_failures']} unique), {len(server_errors)} server errors, "
              f"{result['operations']['tested']} operations, {result['running_time']:.0f} s, seed {result['seed']}")
    assert cases["with_failures"] == 0 and result["exit_code"] == 0, run.stdout[-8000:]
    assert served, "no API request found in the access log: the 5xx check below would see nothing"
    assert server_errors == [], server_errors[:20]
    # every documented operation was exercised (schemathesis leaves out the description itself)
    assert result["operations"]["tested"] == len(OPERATIONS) - 1 and result["operations"]["errored"] == 0
    assert result["complete"] and cases["generated"] >= 20 * len(OPERATIONS)
