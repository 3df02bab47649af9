"""The v1 example program (examples/v1_file_program.py, in the second seed's style) through the
v1-era SDK against a server with the real sandbox: the CSV given by `file_ids` on the assistant
and the message is in /mnt/data, the model's code reads it, the answer's file link resolves in
the guide's annotation loop."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import KEY_A, make_settings
from tests.docker.conftest import IMAGE_TAG
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.examples import run_example
from tests.support.server import RunningServer, run_server

pytestmark = pytest.mark.docker
OPENAI1_PYTHON = Path(__file__).resolve().parents[2] / ".venv-openai1" / "bin" / "python"

CODE = """import csv
totals = {}
with open('/mnt/data/sales.csv') as handle:
    for row in csv.DictReader(handle):
        totals[row['region']] = totals.get(row['region'], 0) + int(row['total'])
with open('/mnt/data/totals.csv', 'w') as out:
    out.write('region,total\\n' + ''.join(f'{k},{v}\\n' for k, v in totals.items()))
print(totals)"""


@pytest.fixture(scope="module")
def v1_ci_server(
    sandbox_image: str, tmp_path_factory: pytest.TempPathFactory, fake_upstream: FakeUpstream
) -> Iterator[RunningServer]:
    data_dir = tmp_path_factory.mktemp("v1-ci-server")
    settings = make_settings(
        data_dir,
        f"sqlite+aiosqlite:///{data_dir / 'db.sqlite'}",
        upstream_base_url=fake_upstream.base_url,
        sandbox_enabled=True,
        sandbox_image=IMAGE_TAG,
        sandbox_instance=f"pytest-v1-{secrets.token_hex(4)}",  # unique: start() sweeps it
        sandbox_pool_size=0,
        sandbox_exec_timeout_s=30.0,
    )
    with run_server(settings) as server:
        yield server


@pytest.mark.skipif(not OPENAI1_PYTHON.exists(), reason="needs .venv-openai1 (scripts/test)")
def test_v1_file_program_reads_the_csv(
    v1_ci_server: RunningServer, fake: FakeUpstream, tmp_path: Path
) -> None:
    answer = "North sold more (30 against 12). [totals.csv](sandbox:/mnt/data/totals.csv)"
    fake.script(
        Turn(tool_calls=[Call("code_interpreter", json.dumps({"code": CODE}), chunks=4)]),
        Turn(text=answer),
    )
    done = run_example(
        "v1_file_program.py", v1_ci_server.api, KEY_A, cwd=tmp_path, python=str(OPENAI1_PYTHON)
    )
    assert done.returncode == 0, done.stderr
    assert "run: completed" in done.stdout
    # the code read the CSV in the sandbox: its output went to the model and to the step
    assert "code output > {'north': 30, 'south': 12}" in done.stdout
    tool_result = fake.requests[-1]["messages"][-1]
    assert tool_result["role"] == "tool" and "'north': 30" in tool_result["content"]
    # the seed's loop turned the file link into a footnote naming the file the code wrote
    assert "North sold more (30 against 12). [totals.csv]( [0])" in done.stdout
    assert "[0] Click <here> to download totals.csv" in done.stdout
