"""schemathesis against the service's published OpenAPI spec, over real HTTP: no 500s, every response matches the
schema (status code documented, content type and body as declared).

schemathesis needs a newer hypothesis than eth-brownie pins, so it lives in its own virtual environment
(``.venv-schemathesis``, built by ``make schemathesis-venv`` from constraints-schemathesis.txt) and runs as a CLI
against the live server. A missing environment is a failure, not a skip: the check must not silently vanish.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest

from oracle.chain.anvil import dev_private_keys
from oracle.testing.harness import ServiceProcess, start_service, write_live

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = REPO_ROOT / ".venv-schemathesis" / "bin" / "schemathesis"
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.fixture(scope="module")
def service(deployed: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    snapshot = deployed.snapshot()
    workdir = tmp_path_factory.mktemp("schemathesis-service")
    (workdir / "rounds").mkdir()
    write_live(workdir / "rounds", 1, 20)
    process = start_service(
        deployed.url, deployed.deployment_file, dev_private_keys(2)[1], workdir, extra_args=["--max-rounds", "1"]
    )
    try:
        yield process
    finally:
        process.stop()
        deployed.revert(snapshot)


def test_no_server_errors_and_every_response_matches_the_schema(service: ServiceProcess, tmp_path: Path) -> None:
    assert SCHEMATHESIS.exists(), (
        f"{SCHEMATHESIS} is missing: run `make schemathesis-venv` (schemathesis needs a newer hypothesis than "
        "brownie's pin, so it has its own virtual environment)"
    )
    report = tmp_path / "junit.xml"
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{service.url}/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            "25",
            "--generation-deterministic",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
            "--suppress-health-check",
            "all",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, f"schemathesis found problems:\n{output[-6000:]}\nservice log:\n{service.log()[-2000:]}"
    # It really exercised the API: every operation of the spec was tested.
    for operation in (
        "GET /rounds/{round}/models/{model_id}/proof",
        "POST /rounds/{round}/submissions",
        "GET /models/{model_id}",
        "GET /metrics",
    ):
        assert operation in output or operation in report.read_text(), operation
    assert '"status": 500' not in service.log()
