"""How the server logs: one JSON object per line (HUBBUB_LOG_FORMAT=json, the default)
or the human format (`text`), for Hubbub's loggers and uvicorn's alike, on stderr.

A JSON line has `time` (UTC, ISO 8601), `level`, `logger`, `message`, `pid`, `request_id`
when the line was written for an HTTP request or a WebSocket frame, and the fields a
call passed as `extra`. The configuration is a plain `dictConfig` dictionary, so the
same one can go to uvicorn (`log_config`), which applies it in every worker process.
"""

from __future__ import annotations

import logging
import logging.config
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.orjson import OrjsonFormatter

from hubbub.config import Settings

# The id of the HTTP request or WebSocket frame being handled, for every line logged
# while it runs (tasks started meanwhile inherit it).
request_id: ContextVar[str | None] = ContextVar("hubbub_request_id", default=None)

TEXT_FORMAT = "%(levelname)s %(name)s %(message)s"


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id (None outside any request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


class NoQueryStrings(logging.Filter):
    """Cuts the query string off the paths uvicorn logs (its WebSocket handshake lines
    name `/ws?ticket=...`): a ticket is a credential until it is used."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("uvicorn") and isinstance(record.args, tuple):
            record.args = tuple(_without_query(arg) for arg in record.args)
        return True


def _without_query(arg: object) -> object:
    if isinstance(arg, str) and arg.startswith("/") and "?" in arg:
        return arg.split("?", 1)[0]
    return arg


class JsonFormatter(OrjsonFormatter):
    """One JSON object per line, `time` first; `request_id` only when known."""

    def __init__(self) -> None:
        super().__init__(
            # The process id tells the workers of `hubbub serve --workers N` apart.
            "%(levelname)s %(name)s %(message)s %(process)d",
            rename_fields={"levelname": "level", "name": "logger", "process": "pid"},
            timestamp="time",
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        if log_data.get("request_id") is None:
            log_data.pop("request_id", None)
        log_data.pop("color_message", None)  # uvicorn's copy of the message, with ANSI colours
        return {"time": log_data.pop("time"), **log_data}


class TextFormatter(logging.Formatter):
    """Today's human format, with the request id at the end when known."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        known = getattr(record, "request_id", None)
        return f"{line} [{known}]" if known else line


def config(settings: Settings) -> dict[str, Any]:
    """The logging configuration `settings` ask for (HUBBUB_LOG_FORMAT, _LOG_LEVEL)."""
    formatter = JsonFormatter if settings.log_format == "json" else TextFormatter
    return {
        "version": 1,
        # Loggers made at import time (hubbub.*, uvicorn.*) keep working.
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": RequestIdFilter},
            "no_query_strings": {"()": NoQueryStrings},
        },
        "formatters": {"hubbub": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "hubbub",
                "filters": ["request_id", "no_query_strings"],
            }
        },
        # uvicorn's loggers lose their own handlers and format and reach the root's.
        "loggers": {
            name: {"handlers": [], "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
        },
        "root": {"level": settings.log_level.upper(), "handlers": ["stderr"]},
    }


def configure(settings: Settings) -> None:
    """Applies `config(settings)` to this process."""
    logging.config.dictConfig(config(settings))
