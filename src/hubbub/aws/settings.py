"""Settings only the Lambda deployment has, read from the environment and checked at
the first invocation (a missing one names itself in the error). Everything else
(HUBBUB_REDIS_URL, HUBBUB_ALLOWED_ORIGINS, HUBBUB_TOKEN_SECRET, HUBBUB_S3_BUCKET, the
limits) is `hubbub.config.Settings`, shared with the long-running server.

AWS endpoints are not settings of ours: boto3 honours AWS_ENDPOINT_URL and
AWS_ENDPOINT_URL_<SERVICE> (moto, serverless-offline) like any other AWS client.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from hubbub.config import ConfigError

# API Gateway closes a WebSocket after two hours; a row outlives that by a margin,
# for a `$disconnect` that never came.
CONNECTION_TTL_SECONDS = 2 * 3600 + 600


@dataclass(frozen=True, slots=True)
class AwsSettings:
    # The logical table names get this prefix ("hubbub-<stage>-" when deployed).
    dynamodb_table_prefix: str = "hubbub-"
    # The fan-out topic (messages, conversations, realtime publish; fanout subscribes).
    sns_topic_arn: str = ""
    # Where connections are posted to: https://{apiId}.execute-api.{region}.amazonaws.com/{stage}
    # (offline: http://localhost:3001). Configured, never derived from the event. Only the
    # fan-out reads it: the functions in the VPC cannot reach the Management API.
    ws_management_url: str = ""
    # Cognito (read by the Cognito identity adapter; the pool and its app client).
    cognito_user_pool_id: str = ""
    cognito_client_id: str = ""
    cognito_jwks_url: str = ""
    cognito_issuer: str = ""
    # PreSignUp confirms sign-ups itself: the local stage only.
    auto_confirm: bool = False
    # How many connections the fan-out posts to at once (each post is an HTTPS call).
    fanout_concurrency: int = 32
    connection_ttl_seconds: int = CONNECTION_TTL_SECONDS

    def __post_init__(self) -> None:
        if self.sns_topic_arn:
            _check(
                self.sns_topic_arn.startswith("arn:"),
                "HUBBUB_SNS_TOPIC_ARN must be an SNS topic ARN (arn:aws:sns:...)",
            )
        if self.ws_management_url:
            parts = urlsplit(self.ws_management_url)
            _check(
                parts.scheme in {"http", "https"} and bool(parts.netloc),
                "HUBBUB_WS_MANAGEMENT_URL must be an http(s) URL such as"
                " https://{apiId}.execute-api.{region}.amazonaws.com/{stage}",
            )
        _check(1 <= self.fanout_concurrency <= 256, "HUBBUB_FANOUT_CONCURRENCY must be 1-256")
        _check(
            self.connection_ttl_seconds >= 7200,
            "HUBBUB_CONNECTION_TTL_SECONDS must be at least 7200 (API Gateway's connection life)",
        )

    def table(self, logical: str) -> str:
        return f"{self.dynamodb_table_prefix}{logical}"

    def require(self, *names: str) -> None:
        """Raises `ConfigError` naming every one of `names` (fields) left empty: what a
        handler cannot work without."""
        missing = [f"HUBBUB_{n.upper()}" for n in names if not getattr(self, n)]
        if missing:
            raise ConfigError(f"missing setting(s) for this handler: {', '.join(missing)}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AwsSettings:
        env = os.environ if environ is None else environ

        def text(name: str, default: str = "") -> str:
            return env.get(f"HUBBUB_{name.upper()}", "").strip() or default

        def number(name: str, default: int) -> int:
            raw = text(name)
            if not raw:
                return default
            try:
                return int(raw)
            except ValueError:
                raise ConfigError(
                    f"HUBBUB_{name.upper()} must be an integer, got {raw!r}"
                ) from None

        confirm = text("auto_confirm", "false").lower()
        _check(confirm in {"true", "false"}, "HUBBUB_AUTO_CONFIRM must be true or false")
        return cls(
            dynamodb_table_prefix=env.get("HUBBUB_DYNAMODB_TABLE_PREFIX", "hubbub-"),
            sns_topic_arn=text("sns_topic_arn"),
            ws_management_url=text("ws_management_url").rstrip("/"),
            cognito_user_pool_id=text("cognito_user_pool_id"),
            cognito_client_id=text("cognito_client_id"),
            cognito_jwks_url=text("cognito_jwks_url"),
            cognito_issuer=text("cognito_issuer"),
            auto_confirm=confirm == "true",
            fanout_concurrency=number("fanout_concurrency", 32),
            connection_ttl_seconds=number("connection_ttl_seconds", CONNECTION_TTL_SECONDS),
        )


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
