"""Cognito's refusals become the domain errors (and so the stable API codes) the local
identity gives. moto raises few of them (it accepts any confirmation code, never
throttles), so a tiny local server answers each Cognito operation with the error a test
names, in Cognito's own wire format, and boto3 parses it as it would AWS's."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from hubbub.adapters.cognito_identity import CognitoIdentity
from hubbub.adapters.memory import MemoryStore
from hubbub.adapters.system import SystemClock
from hubbub.domain.errors import (
    Conflict,
    DomainError,
    NotConfirmed,
    RateLimited,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from hubbub.domain.models import User
from hubbub.ports import Transaction
from tests.cognito import JsonHandler, serving
from tests.support import free_port

ANA = User("01ana", "ana", "ana@example.com", "Ana", datetime(2026, 1, 1, tzinfo=UTC), True)
BO = User("01bo", "bo-waits", "bo@example.com", "Bo", ANA.created_at, False)  # unconfirmed


class FakeCognito:
    """Answers operation X with `errors[X]` as (status, Cognito error code)."""

    def __init__(self) -> None:
        self.errors: dict[str, tuple[int, str]] = {}
        self.calls: list[str] = []
        fake = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                operation = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
                fake.calls.append(operation)
                status, code = fake.errors.get(operation, (200, ""))
                payload = {"__type": code, "message": f"{code} (fake)"} if code else {}
                self.send_json(status, payload, "application/x-amz-json-1.1")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}"


def client_for(endpoint: str) -> Any:
    return boto3.client(
        "cognito-idp",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5),
    )


@pytest.fixture
def cognito() -> Iterator[FakeCognito]:
    fake = FakeCognito()
    with serving(fake.server):
        yield fake


async def identity_on(endpoint: str) -> CognitoIdentity:
    store = MemoryStore()

    def add_both(tx: Transaction) -> None:
        tx.users.insert(ANA)
        tx.users.insert(BO)

    await store.write(add_both)
    return CognitoIdentity(
        store,
        SystemClock(),
        user_pool_id="us-east-1_FAKE",
        client_id="client",
        jwks_url=f"{endpoint}/jwks.json",
        client=client_for(endpoint),
    )


CASES: list[tuple[str, str, str, type[DomainError]]] = [
    # (adapter method, Cognito operation, Cognito error, domain error)
    ("confirm", "ConfirmSignUp", "CodeMismatchException", ValidationFailed),
    ("confirm", "ConfirmSignUp", "ExpiredCodeException", ValidationFailed),
    ("confirm", "ConfirmSignUp", "NotAuthorizedException", ValidationFailed),
    ("confirm", "ConfirmSignUp", "LimitExceededException", RateLimited),
    ("confirm", "ConfirmSignUp", "TooManyFailedAttemptsException", RateLimited),
    ("sign_in", "InitiateAuth", "NotAuthorizedException", Unauthorized),
    ("sign_in", "InitiateAuth", "UserNotFoundException", Unauthorized),
    ("sign_in", "InitiateAuth", "PasswordResetRequiredException", Unauthorized),
    ("sign_in", "InitiateAuth", "UserNotConfirmedException", NotConfirmed),
    ("sign_in", "InitiateAuth", "TooManyRequestsException", RateLimited),
    ("sign_in", "InitiateAuth", "InternalErrorException", Unavailable),
    ("register", "SignUp", "UsernameExistsException", Conflict),
    ("register", "SignUp", "InvalidPasswordException", ValidationFailed),
    ("register", "SignUp", "TooManyRequestsException", RateLimited),
    ("register", "SignUp", "InvalidParameterException", ValidationFailed),
    ("reset", "ConfirmForgotPassword", "CodeMismatchException", ValidationFailed),
    ("reset", "ConfirmForgotPassword", "ExpiredCodeException", ValidationFailed),
    ("reset", "ConfirmForgotPassword", "InvalidPasswordException", ValidationFailed),
    ("reset", "ConfirmForgotPassword", "LimitExceededException", RateLimited),
    ("resend", "ResendConfirmationCode", "LimitExceededException", RateLimited),
    ("forgot", "ForgotPassword", "LimitExceededException", RateLimited),
]


async def call(identity: CognitoIdentity, method: str) -> None:
    if method == "confirm":
        await identity.confirm("ana", "123456")
    elif method == "sign_in":
        await identity.sign_in("ana", "a password")
    elif method == "register":
        await identity.register(ANA, "a password")
    elif method == "reset":
        await identity.confirm_forgot_password("ana@example.com", "123456", "a new password")
    elif method == "resend":
        await identity.resend_code("bo-waits")
    elif method == "forgot":
        await identity.forgot_password("ana")


@pytest.mark.parametrize(("method", "operation", "code", "expected"), CASES)
async def test_cognito_errors_become_the_local_identitys_errors(
    cognito: FakeCognito, method: str, operation: str, code: str, expected: type[DomainError]
) -> None:
    identity = await identity_on(cognito.endpoint)
    cognito.errors[operation] = (400 if code != "InternalErrorException" else 500, code)
    with pytest.raises(expected) as raised:
        await call(identity, method)
    assert type(raised.value) is expected
    assert operation in cognito.calls
    if code == "InvalidPasswordException":
        assert raised.value.details == {"field": "password"}


@pytest.mark.parametrize("code", ["UserNotFoundException", "InvalidParameterException"])
async def test_code_requests_say_nothing_about_the_account(cognito: FakeCognito, code: str) -> None:
    identity = await identity_on(cognito.endpoint)
    cognito.errors["ResendConfirmationCode"] = (400, code)
    cognito.errors["ForgotPassword"] = (400, code)
    await identity.resend_code("bo-waits")
    await identity.forgot_password("ana")
    assert cognito.calls == ["ResendConfirmationCode", "ForgotPassword"]
    # Accounts in the wrong state, or none, are not even asked about.
    await identity.resend_code("ana")  # confirmed already
    await identity.forgot_password("bo-waits")  # not confirmed yet
    await identity.forgot_password("nobody")
    assert cognito.calls == ["ResendConfirmationCode", "ForgotPassword"]


async def test_an_unreachable_cognito_is_unavailable() -> None:
    identity = await identity_on(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Unavailable):
        await identity.sign_in("ana", "a password")
    with pytest.raises(Unavailable):
        await identity.has_account(ANA.id)


async def test_a_misconfigured_pool_is_not_blamed_on_the_person(cognito: FakeCognito) -> None:
    identity = await identity_on(cognito.endpoint)
    cognito.errors["SignUp"] = (400, "ResourceNotFoundException")  # a wrong client id
    with pytest.raises(ClientError):
        await identity.register(ANA, "a password")
