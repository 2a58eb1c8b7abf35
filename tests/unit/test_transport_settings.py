"""The transport limits' settings: validated by name, and the connection cap derived
from the open-file limit when it is not set."""

from __future__ import annotations

import resource

import pytest

from hubbub.config import ConfigError, Settings
from hubbub.server.transport import FD_RESERVE, Limits


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"HUBBUB_MAX_HEADER_BYTES": "100"}, "HUBBUB_MAX_HEADER_BYTES"),
        ({"HUBBUB_MAX_HEADER_BYTES": "16k"}, "HUBBUB_MAX_HEADER_BYTES"),
        ({"HUBBUB_HEAD_TIMEOUT_SECONDS": "0"}, "HUBBUB_HEAD_TIMEOUT_SECONDS"),
        ({"HUBBUB_HEAD_TIMEOUT_SECONDS": "1.5"}, "HUBBUB_HEAD_TIMEOUT_SECONDS"),
        ({"HUBBUB_BODY_TIMEOUT_SECONDS": "0"}, "HUBBUB_BODY_TIMEOUT_SECONDS"),
        ({"HUBBUB_KEEP_ALIVE_SECONDS": "301"}, "HUBBUB_KEEP_ALIVE_SECONDS"),
        ({"HUBBUB_MAX_OPEN_CONNECTIONS": "5"}, "HUBBUB_MAX_OPEN_CONNECTIONS"),
        ({"HUBBUB_MAX_OPEN_CONNECTIONS": "-1"}, "HUBBUB_MAX_OPEN_CONNECTIONS"),
    ],
)
def test_bad_transport_settings_are_refused_by_name(env: dict[str, str], name: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)


def test_limits_follow_the_settings() -> None:
    settings = Settings.from_env(
        {
            "HUBBUB_MAX_HEADER_BYTES": "8192",
            "HUBBUB_HEAD_TIMEOUT_SECONDS": "3",
            "HUBBUB_MAX_OPEN_CONNECTIONS": "1000",
        }
    )
    limits = Limits.from_settings(settings)
    assert (limits.max_header_bytes, limits.head_timeout) == (8192, 3.0)
    assert limits.max_connections == 1000
    assert 1 <= limits.headroom <= 100  # WebSockets stop a little short of the cap


def test_the_default_cap_leaves_file_descriptors_for_the_process() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    limits = Limits.from_settings(Settings())
    if soft != resource.RLIM_INFINITY and soft > FD_RESERVE + 10:
        assert limits.max_connections == soft - FD_RESERVE
    assert limits.max_connections - limits.headroom >= 1
