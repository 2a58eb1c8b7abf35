"""Settings are validated at start-up with messages that name the variable."""

from __future__ import annotations

import pytest

from hubbub.cli import main
from hubbub.config import ConfigError, Settings


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"HUBBUB_PORT": "eighty"}, "HUBBUB_PORT"),
        ({"HUBBUB_PORT": "70000"}, "HUBBUB_PORT"),
        ({"HUBBUB_STORE": "oracle"}, "HUBBUB_STORE"),
        ({"HUBBUB_TOKEN_SECRET": "short"}, "HUBBUB_TOKEN_SECRET"),
        ({"HUBBUB_ALLOWED_ORIGINS": "evil.example"}, "HUBBUB_ALLOWED_ORIGINS"),
        ({"HUBBUB_SQLITE_SYNCHRONOUS": "off"}, "HUBBUB_SQLITE_SYNCHRONOUS"),
        ({"HUBBUB_REDIS_URL": "http://cache:6379"}, "HUBBUB_REDIS_URL"),
        ({"HUBBUB_REDIS_URL": "redis://:6379"}, "HUBBUB_REDIS_URL"),
        ({"HUBBUB_WORKERS": "0"}, "HUBBUB_WORKERS"),
        ({"HUBBUB_PRESENCE_LEASE_SECONDS": "1"}, "HUBBUB_PRESENCE_LEASE_SECONDS"),
        ({"HUBBUB_LOG_FORMAT": "xml"}, "HUBBUB_LOG_FORMAT"),
        ({"HUBBUB_METRICS_TOKEN": "short"}, "HUBBUB_METRICS_TOKEN"),
    ],
)
def test_bad_settings_are_refused_by_name(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        Settings.from_env(env)


def test_flags_override_the_environment() -> None:
    settings = Settings.from_env({"HUBBUB_PORT": "9000"}, port=9100, host=None)
    assert (settings.port, settings.host) == (9100, "127.0.0.1")


def test_the_cli_reports_configuration_errors(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HUBBUB_STORE", "oracle")
    assert main(["serve"]) == 2
    assert "HUBBUB_STORE" in capsys.readouterr().err


SHARED = {
    "HUBBUB_DATABASE_URL": "postgresql://hubbub@db:5432/hubbub",
    "HUBBUB_TOKEN_SECRET": "x" * 32,
    "HUBBUB_REDIS_URL": "redis://cache:6379/0",
}


@pytest.mark.parametrize(
    "env",
    [
        {},  # SQLite: one writer per file
        {k: v for k, v in SHARED.items() if k != "HUBBUB_REDIS_URL"},  # nothing shared live
        {"HUBBUB_REDIS_URL": "redis://cache:6379/0"},  # still SQLite
    ],
)
def test_workers_need_postgresql_and_redis(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="HUBBUB_WORKERS above 1 needs"):
        Settings.from_env({**env, "HUBBUB_WORKERS": "2"})
    assert Settings.from_env({**SHARED, "HUBBUB_WORKERS": "4"}).workers == 4


def test_workers_read_back_exactly_the_settings_their_parent_was_given() -> None:
    given = Settings.from_env(
        {**SHARED, "HUBBUB_ALLOWED_ORIGINS": "https://a.example,https://b.example"},
        port=9100,
        workers=3,
        host="0.0.0.0",
    )
    assert Settings.from_env(given.to_env()) == given
