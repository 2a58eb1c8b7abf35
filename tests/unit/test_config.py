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
