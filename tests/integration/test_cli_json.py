"""`itsm ... --json` prints exactly one JSON document on stdout; every log line goes to stderr.

Each command runs as its own process (`python -m include.itsm`), the way an operator pipes it into
`jq`: Airflow configures its logging at the first import in that process, and the Amazon provider
logs while it builds the AWS session, so an in-process call would not see what a shell sees.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.integration.demo_fixtures import REPO_ROOT, connection_env, write_test_config

COMMANDS = {
    "sweep": ["sweep"],
    "cross-validate": ["cross-validate", "OPS-180"],
    "lifecycle": ["lifecycle", "OPS-180"],
    "doctor": ["doctor"],
}


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory, demo_board, local_aws):
    directory = tmp_path_factory.mktemp("cli-json")
    return os.environ | {
        **connection_env(demo_board.url, demo_board.user, demo_board.token, local_aws.endpoint_url),
        "ITSM_CONFIG": str(write_test_config(directory)),
        "PYTHONPATH": str(REPO_ROOT),
    }


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "include.itsm", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("name", COMMANDS)
def test_json_stdout_parses_and_logs_go_to_stderr(name, cli_env):
    done = run_cli([*COMMANDS[name], "--json"], cli_env)
    assert done.returncode == 0, done.stderr[-2000:]
    json.loads(done.stdout)  # the whole of stdout, nothing before or after the document
    # The provider's line about the AWS credentials (the one that used to precede the JSON) is on stderr.
    assert "airflow.providers.amazon" in done.stderr


def test_json_log_format_goes_to_stderr_too(cli_env):
    """With Airflow's JSON logs (`[logging] json_logs`), its byte loggers are rerouted as well."""
    done = run_cli(["doctor", "--json"], cli_env | {"AIRFLOW__LOGGING__JSON_LOGS": "true"})
    assert done.returncode == 0, done.stderr[-2000:]
    json.loads(done.stdout)
    log_lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith('{"timestamp"')]
    assert any(line["logger"].startswith("airflow.providers.amazon") for line in log_lines)


def test_offline_commands_do_not_start_airflow():
    """The commands cli.OFFLINE_COMMANDS exempts from rerouting really never import Airflow."""
    probe = (
        "import sys\n"
        "from include.itsm.cli import OFFLINE_COMMANDS, main\n"
        "assert OFFLINE_COMMANDS == {'devstack', 'triage', 'scrub'}, OFFLINE_COMMANDS\n"
        "main(['triage', '--input', '-', '--output', '-'])\n"
        "main(['scrub', '--input', '-', '--output', '-'])\n"
        "main(['devstack', 'status', '--json'])\n"
        "assert 'airflow' not in sys.modules, 'an offline command imported Airflow'\n"
    )
    line = json.dumps({"key": "OPS-1", "summary": "EC2 instance i-0abc down", "description": "prod web down"})
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO_ROOT,
        env=os.environ | {"PYTHONPATH": str(REPO_ROOT)},
        input=line + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
