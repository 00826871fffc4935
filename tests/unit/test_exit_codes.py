"""One exit-code table for every `itsm` command: documented in README, one line (no traceback) for a user error."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from include.itsm.cli import build_parser, main
from include.itsm.commands.exit_codes import CommandError, ExitCode, exit_code_for, for_http_status
from include.itsm.config import ConfigError, settings

REPO = Path(__file__).resolve().parents[2]


def _subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(argv prefix, parser) of every leaf command, sub-actions included (`audit verify`)."""
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not actions:
        yield prefix, parser
        return
    for name, sub in actions[0].choices.items():
        yield from _subcommands(sub, (*prefix, name))


COMMANDS = list(_subcommands(build_parser()))
KEYED = [argv for argv, parser in COMMANDS if any(a.dest == "key" for a in parser._actions)]
WITH_CUSTOMER = [argv for argv, parser in COMMANDS if any(a.dest == "customer" for a in parser._actions)]


def test_every_code_has_a_docstring_and_readme_documents_exactly_the_table():
    assert all(code.__doc__ and code.__doc__ != ExitCode.__doc__ for code in ExitCode)
    readme = (REPO / "README.md").read_text()
    rows = re.findall(r"^\| (\d+) \| `([A-Z]+)` \| .+ \|$", readme, flags=re.MULTILINE)
    assert [(int(value), name) for value, name in rows] == [(code.value, code.name) for code in ExitCode]


def test_every_keyed_command_is_covered():
    assert {" ".join(argv) for argv in KEYED} >= {
        "classify",
        "lifecycle",
        "cross-validate",
        "create-change",
        "create-cr",
        "approve",
        "audit verify",
        "create-pir",
    }


@pytest.mark.parametrize("argv", KEYED, ids=lambda argv: " ".join(argv))
@pytest.mark.parametrize("bad", ["ops-1", "../../etc/passwd", "OPS-1\n"])
def test_a_bad_ticket_key_is_exit_2_with_one_line_and_no_traceback(argv, bad, capsys):
    extra = ["--gate", "labels"] if argv == ("approve",) else []
    with pytest.raises(SystemExit) as stopped:
        main([*argv, bad, *extra])
    out, err = capsys.readouterr()
    assert stopped.value.code == ExitCode.USAGE
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"itsm {' '.join(argv)}: argument key: ticket key ") and "not a Jira issue key" in err


def test_a_bad_key_through_the_real_entry_point_is_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "include.itsm", "lifecycle", "OPS-1/../x"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "not a Jira issue key" in done.stderr


def test_any_usage_error_is_one_line(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["triage", "--input", "x"])
    assert stopped.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def _extra(argv: tuple[str, ...]) -> list[str]:
    extra = {
        ("approve",): ["--gate", "labels"],
        ("scrub",): ["--input", "-", "--output", "-", "--config", str(REPO / "config" / "itsm.yaml")],
    }
    return (["OPS-1"] if argv in KEYED else []) + extra.get(argv, [])


@pytest.mark.parametrize("argv", WITH_CUSTOMER, ids=lambda argv: " ".join(argv))
def test_an_unknown_customer_is_a_configuration_error(argv, capsys, monkeypatch):
    code = main([*argv, *_extra(argv), "--customer", "no-such-customer"])
    err = capsys.readouterr().err
    assert code == ExitCode.CONFIG and "no customer 'no-such-customer'" in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [("classify",), ("audit", "verify"), ("evidence", "prune"), ("sweep",)])
def test_a_missing_or_invalid_configuration_file_is_exit_3(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ITSM_CONFIG", str(tmp_path / "missing.yaml"))
    settings.cache_clear()
    try:
        assert main([*argv, *_extra(argv)]) == ExitCode.CONFIG
        assert "missing.yaml: configuration file not found" in capsys.readouterr().err
        (tmp_path / "missing.yaml").write_text("runtime:\n  sweep_batch_size: 0\n")
        settings.cache_clear()
        assert main([*argv, *_extra(argv)]) == ExitCode.CONFIG
        err = capsys.readouterr().err
        assert "runtime.sweep_batch_size" in err and "Traceback" not in err
    finally:
        settings.cache_clear()


def test_exceptions_map_onto_the_table():
    from include.itsm.adapters.airflow_api import AirflowApiError
    from include.itsm.adapters.evidence import AuditChainError, AuditConfigError, EvidenceError
    from include.itsm.adapters.jira import JiraAdapterError, JiraUnavailable

    cases = {
        ConfigError("x"): ExitCode.CONFIG,
        AuditConfigError("x"): ExitCode.CONFIG,
        AuditChainError("x"): ExitCode.REFUSED,
        EvidenceError("run classify first"): ExitCode.USAGE,
        JiraUnavailable("down"): ExitCode.UNAVAILABLE,
        JiraAdapterError("GET issue: 404 Not Found, HTTP 404"): ExitCode.USAGE,
        AirflowApiError("trigger: HTTP 403 forbidden"): ExitCode.REFUSED,
        AirflowApiError("trigger: HTTP 409 conflict"): ExitCode.REFUSED,
        AirflowApiError("trigger: HTTP 503"): ExitCode.UNAVAILABLE,
        PermissionError("go/no-go: the drafter cannot approve"): ExitCode.REFUSED,
        FileNotFoundError(2, "No such file or directory"): ExitCode.USAGE,
        ConnectionRefusedError(111, "refused"): ExitCode.UNAVAILABLE,
        ValueError("steps: unknown step"): ExitCode.USAGE,
        KeyboardInterrupt(): ExitCode.INTERRUPTED,
        CommandError(ExitCode.REFUSED, "no"): ExitCode.REFUSED,
        RuntimeError("a bug"): None,
        SystemExit(2): None,
    }
    assert {repr(exc): exit_code_for(exc) for exc in cases} == {repr(exc): code for exc, code in cases.items()}
    assert [for_http_status(s) for s in (400, 401, 403, 404, 409, 429, 500, 503)] == [
        ExitCode.USAGE,
        ExitCode.REFUSED,
        ExitCode.REFUSED,
        ExitCode.USAGE,
        ExitCode.REFUSED,
        ExitCode.UNAVAILABLE,
        ExitCode.UNAVAILABLE,
        ExitCode.UNAVAILABLE,
    ]


def test_a_bug_keeps_its_traceback(monkeypatch):
    def broken(ctx, **_):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("include.itsm.sweep.run_sweep", broken)
    with pytest.raises(ZeroDivisionError):
        main(["sweep"])
