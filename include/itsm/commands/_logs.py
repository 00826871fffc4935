"""Every log line of a CLI run goes to stderr, so stdout carries only the command's output (`--json` parses).

Airflow configures logging when it is first imported and writes it to stdout: the stdlib root handler
(which the provider, boto and botocore loggers reach) and structlog's loggers (Python warnings among
them). Airflow's own CLI moves the root handler to stderr for its `-o` commands
(`airflow.cli.utils.redirect_stdout_log_handlers_to_stderr`); this does the same for every handler and
for structlog, once Airflow has configured itself. What Airflow logs while it starts (before its
logging is configured, e.g. which configuration file it loaded) goes to stderr too. Commands that
never import Airflow (cli.OFFLINE_COMMANDS) skip it and stay fast.
"""

from __future__ import annotations

import contextlib
import logging
import sys

import structlog


class _CurrentStderr:
    """A stream that writes to whatever `sys.stderr` is at the time (pytest and `redirect_stderr` swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class _CurrentStderrBytes:
    """The bytes side, for Airflow's JSON log output (`[logging] json_logs`)."""

    def write(self, data: bytes) -> int:
        return sys.stderr.buffer.write(data)

    def flush(self) -> None:
        sys.stderr.flush()


def _stdlib_handlers() -> list[logging.Handler]:
    loggers = [logging.getLogger()] + [
        item for item in logging.Logger.manager.loggerDict.values() if isinstance(item, logging.Logger)
    ]
    return [handler for logger in loggers for handler in logger.handlers]


def route_logs_to_stderr() -> None:
    """Configure Airflow's logging now, then point every handler and structlog logger that writes to stdout at stderr."""
    with contextlib.redirect_stdout(sys.stderr):  # what Airflow logs or prints while it starts
        import airflow  # noqa: F401 - the first import configures logging (to stdout)

    stderr = _CurrentStderr()
    for handler in _stdlib_handlers():
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(stderr)
    # Airflow's structlog factory makes named loggers on sys.stdout: BytesLoggers when json_logs is on.
    binary = isinstance(structlog.get_config()["logger_factory"](), structlog.BytesLogger)
    structlog.configure(logger_factory=_bytes_logger if binary else _text_logger)


def _text_logger(name: str | None = None, *args) -> structlog.WriteLogger:
    logger = structlog.WriteLogger(_CurrentStderr())
    logger.name = name  # Airflow's processors print it as the line's [logger]
    return logger


def _bytes_logger(name: str | None = None, *args) -> structlog.BytesLogger:
    return structlog.BytesLogger(_CurrentStderrBytes(), name=name)
