"""The Lambda-only settings: checked with errors that name the variable."""

from __future__ import annotations

import pytest

from hubbub.aws.settings import AwsSettings
from hubbub.config import ConfigError


def test_defaults_and_values_from_the_environment() -> None:
    settings = AwsSettings.from_env(
        {
            "HUBBUB_DYNAMODB_TABLE_PREFIX": "hubbub-prod-",
            "HUBBUB_SNS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:hubbub-prod-fanout",
            "HUBBUB_WS_MANAGEMENT_URL": "https://abc.execute-api.eu-west-1.amazonaws.com/prod/",
            "HUBBUB_AUTO_CONFIRM": "true",
        }
    )
    assert settings.table("websocket-connections") == "hubbub-prod-websocket-connections"
    assert settings.ws_management_url.endswith("/prod")
    assert settings.auto_confirm is True
    assert AwsSettings.from_env({}).table("users") == "hubbub-users"


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("HUBBUB_SNS_TOPIC_ARN", "hubbub-fanout", "HUBBUB_SNS_TOPIC_ARN"),
        ("HUBBUB_WS_MANAGEMENT_URL", "wss://abc/prod", "HUBBUB_WS_MANAGEMENT_URL"),
        ("HUBBUB_AUTO_CONFIRM", "yes", "HUBBUB_AUTO_CONFIRM"),
        ("HUBBUB_FANOUT_CONCURRENCY", "0", "HUBBUB_FANOUT_CONCURRENCY"),
        ("HUBBUB_FANOUT_CONCURRENCY", "many", "HUBBUB_FANOUT_CONCURRENCY"),
        ("HUBBUB_CONNECTION_TTL_SECONDS", "60", "HUBBUB_CONNECTION_TTL_SECONDS"),
    ],
)
def test_a_bad_value_is_refused_by_name(name: str, value: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        AwsSettings.from_env({name: value})


def test_a_handler_names_what_it_misses() -> None:
    with pytest.raises(ConfigError, match="HUBBUB_SNS_TOPIC_ARN, HUBBUB_WS_MANAGEMENT_URL"):
        AwsSettings.from_env({}).require("sns_topic_arn", "ws_management_url")
