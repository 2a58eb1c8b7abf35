"""The Cognito identity adapter against moto's Cognito server over HTTP, driven through
the same `AuthService` the HTTP routes use, so what a person sees (401s, ended sessions,
confirmation) is what the local identity gives.

Each test gets a fresh user pool and app client. moto does not check confirmation codes
of ConfirmSignUp (any code confirms) and does not implement RevokeToken or
ResendConfirmationCode; reset codes are checked, and told back in a response header."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from hubbub.adapters.cognito_identity import CognitoIdentity
from hubbub.adapters.local_hub import LocalHub
from hubbub.adapters.local_sessions import StoredSessions
from hubbub.adapters.memory import MemoryRateLimiter, MemoryStore, MemoryTicketStore
from hubbub.adapters.system import SystemClock, UlidGenerator
from hubbub.aws import platform as aws_platform
from hubbub.aws.settings import AwsSettings
from hubbub.bootstrap import build
from hubbub.config import Settings
from hubbub.domain.errors import Conflict, NotConfirmed, Unauthorized, ValidationFailed
from hubbub.domain.models import User
from hubbub.ports import Clock, IdentityProvider, Store
from hubbub.server.app import create_app
from hubbub.services.auth import AuthService
from tests.cognito import create_client, create_pool
from tests.moto import MotoServer, moto

__all__ = ["moto"]  # the fixture

PASSWORD = "correct horse battery staple"
IP = "203.0.113.7"


@dataclass
class LaterClock:
    """The real time plus an offset: Cognito stamps tokens with the real time."""

    offset: timedelta = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Pool:
    moto: MotoServer
    client: Any
    pool_id: str
    client_id: str
    reset_codes: list[str] = field(default_factory=list)

    def identity(self, store: MemoryStore, **options: Any) -> CognitoIdentity:
        params: dict[str, Any] = {
            "user_pool_id": self.pool_id,
            "client_id": self.client_id,
            "jwks_url": f"{self.moto.endpoint}/{self.pool_id}/.well-known/jwks.json",
            "client": self.client,
        }
        params.update(options)
        clock = params.pop("clock", SystemClock())
        return CognitoIdentity(store, clock, **params)

    def other_client(self) -> str:
        return create_client(self.client, self.pool_id, "other")


@pytest.fixture
def pool(moto: MotoServer) -> Iterator[Pool]:
    client = boto3.client("cognito-idp")
    pool_id, client_id = create_pool(client)
    rig = Pool(moto, client, pool_id, client_id)

    def keep_code(http_response: Any, **_: Any) -> None:
        code = http_response.headers.get("x-moto-forgot-password-confirmation-code")
        if code and code != "None":
            rig.reset_codes.append(code)

    # moto tells the reset code it "emailed" in a response header; a person reads it
    # in their mail.
    client.meta.events.register("after-call.cognito-idp.ForgotPassword", keep_code)
    yield rig
    client.delete_user_pool(UserPoolId=pool_id)


@dataclass
class Rig:
    pool: Pool
    store: MemoryStore
    identity: CognitoIdentity
    auth: AuthService


def rig_of(pool: Pool, **options: Any) -> Rig:
    store = MemoryStore()
    clock = options.get("clock", SystemClock())
    identity = pool.identity(store, **options)
    auth = AuthService(
        store,
        identity,
        MemoryTicketStore(),
        MemoryRateLimiter(),
        UlidGenerator(),
        clock,
        sessions=StoredSessions(store, clock),
        connections=LocalHub(),
        common_passwords=frozenset(),
    )
    return Rig(pool, store, identity, auth)


@pytest.fixture
def rig(pool: Pool) -> Rig:
    return rig_of(pool)


async def signed_up(rig: Rig, name: str = "ana") -> User:
    _, needs_code = await rig.auth.sign_up(name, f"{name}@example.com", PASSWORD, name, IP)
    assert needs_code
    return await rig.auth.confirm(name, "123456", IP)


async def test_sign_up_confirm_sign_in_by_username_or_email_and_refresh(rig: Rig) -> None:
    user, needs_code = await rig.auth.sign_up("Ana", "Ana@Example.com", PASSWORD, "Ana", IP)
    assert needs_code and not user.confirmed
    # Cognito's username is our user id, the email a plain attribute.
    held = rig.pool.client.admin_get_user(UserPoolId=rig.pool.pool_id, Username=user.id)
    assert held["UserStatus"] == "UNCONFIRMED"
    assert {"Name": "email", "Value": "ana@example.com"} in held["UserAttributes"]
    with pytest.raises(NotConfirmed):
        await rig.auth.sign_in("ana", PASSWORD, IP)

    confirmed = await rig.auth.confirm("ana", "123456", IP)
    assert confirmed.id == user.id and confirmed.confirmed

    by_name, _ = await rig.auth.sign_in("ana", PASSWORD, IP)
    by_email, _ = await rig.auth.sign_in("ANA@example.com", PASSWORD, IP)
    first = await rig.auth.authenticate(by_name.access_token)
    second = await rig.auth.authenticate(by_email.access_token)
    assert first.user_id == second.user_id == user.id
    assert first.session_id != second.session_id  # two sign-ins, two sessions
    assert 0 < by_name.expires_in <= 900

    renewed = await rig.auth.refresh(by_name.refresh_token)
    assert renewed.access_token != by_name.access_token
    assert await rig.auth.authenticate(renewed.access_token) == first  # same sign-in


async def test_sign_out_ends_that_session_at_once_and_only_that_one(rig: Rig) -> None:
    await signed_up(rig)
    here, _ = await rig.auth.sign_in("ana", PASSWORD, IP)
    there, _ = await rig.auth.sign_in("ana", PASSWORD, IP)
    session = await rig.auth.authenticate(here.access_token)

    await rig.auth.sign_out(session, here.refresh_token, everywhere=False)

    with pytest.raises(Unauthorized):
        await rig.auth.authenticate(here.access_token)  # still unexpired for Cognito
    with pytest.raises(Unauthorized):
        await rig.auth.refresh(here.refresh_token)
    assert (await rig.auth.authenticate(there.access_token)).user_id == session.user_id
    await rig.auth.refresh(there.refresh_token)


async def test_sign_out_without_the_refresh_token_still_refuses_its_refresh(rig: Rig) -> None:
    await signed_up(rig)
    tokens, _ = await rig.auth.sign_in("ana", PASSWORD, IP)
    session = await rig.auth.authenticate(tokens.access_token)
    await rig.auth.sign_out(session, None, everywhere=False)
    with pytest.raises(Unauthorized):
        await rig.auth.refresh(tokens.refresh_token)


async def test_sign_out_everywhere_ends_every_session_in_cognito_too(rig: Rig) -> None:
    await signed_up(rig)
    here, _ = await rig.auth.sign_in("ana", PASSWORD, IP)
    there, _ = await rig.auth.sign_in("ana@example.com", PASSWORD, IP)
    session = await rig.auth.authenticate(here.access_token)

    await rig.auth.sign_out(session, None, everywhere=True)

    for tokens in (here, there):
        with pytest.raises(Unauthorized):
            await rig.auth.authenticate(tokens.access_token)
        with pytest.raises(Unauthorized):
            await rig.auth.refresh(tokens.refresh_token)
        # Cognito itself revoked them (AdminUserGlobalSignOut), not only our ledger.
        with pytest.raises(rig.pool.client.exceptions.NotAuthorizedException):
            rig.pool.client.initiate_auth(
                ClientId=rig.pool.client_id,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": tokens.refresh_token},
            )
    fresh, _ = await rig.auth.sign_in("ana", PASSWORD, IP)
    assert (await rig.auth.authenticate(fresh.access_token)).user_id == session.user_id


async def test_wrong_password_and_unknown_user_get_the_same_refusal(rig: Rig) -> None:
    await signed_up(rig)
    with pytest.raises(Unauthorized) as wrong:
        await rig.auth.sign_in("ana", "not the password at all", IP)
    with pytest.raises(Unauthorized) as unknown:
        await rig.auth.sign_in("nobody", PASSWORD, IP)
    assert wrong.value.message == unknown.value.message == "Invalid username or password."
    with pytest.raises(Unauthorized):
        await rig.auth.refresh("a refresh token nobody issued")


async def test_a_taken_username_or_email_is_refused_and_so_is_a_second_account(
    rig: Rig,
) -> None:
    ana = await signed_up(rig)
    with pytest.raises(Conflict):
        await rig.auth.sign_up("ana", "other@example.com", PASSWORD, "Ana 2", IP)
    with pytest.raises(Conflict):
        await rig.auth.sign_up("ana2", "ana@example.com", PASSWORD, "Ana 2", IP)
    # The adapter alone: a second Cognito user under the same id.
    with pytest.raises(Conflict):
        await rig.identity.register(ana, PASSWORD)


async def test_a_password_cognito_refuses_is_a_validation_error_on_that_field(rig: Rig) -> None:
    user = User("u-weak", "weak", "weak@example.com", "Weak", datetime.now(UTC), False)
    with pytest.raises(ValidationFailed) as refused:
        await rig.identity.register(user, "short1")  # under the pool's 8 characters
    assert refused.value.details == {"field": "password"}


async def test_confirming_an_unknown_account_is_the_one_bad_code_answer(rig: Rig) -> None:
    with pytest.raises(ValidationFailed, match="not valid or has expired"):
        await rig.identity.confirm("nobody", "123456")
    await rig.identity.resend_code("nobody")  # says nothing


async def test_password_reset_with_the_emailed_code_ends_every_session(rig: Rig) -> None:
    await signed_up(rig)
    before, _ = await rig.auth.sign_in("ana", PASSWORD, IP)

    await rig.auth.forgot_password("ana@example.com", IP)
    await rig.auth.forgot_password("nobody", IP)  # nothing sent, nothing told
    assert len(rig.pool.reset_codes) == 1
    with pytest.raises(ValidationFailed, match="not valid or has expired"):
        await rig.auth.reset_password(
            "ana", "moto-confirmation-code:000000", "a new passphrase!", IP
        )
    with pytest.raises(ValidationFailed, match="not valid or has expired"):
        await rig.auth.reset_password("nobody", rig.pool.reset_codes[0], "a new passphrase!", IP)

    await rig.auth.reset_password("ana", rig.pool.reset_codes[0], "a new passphrase!", IP)

    with pytest.raises(Unauthorized):
        await rig.auth.authenticate(before.access_token)
    with pytest.raises(Unauthorized):
        await rig.auth.refresh(before.refresh_token)
    with pytest.raises(Unauthorized):
        await rig.auth.sign_in("ana", PASSWORD, IP)
    await rig.auth.sign_in("ana", "a new passphrase!", IP)


async def test_auto_confirm_is_the_local_stages_stand_in_for_the_trigger(pool: Pool) -> None:
    rig = rig_of(pool, auto_confirm=True)
    user, needs_code = await rig.auth.sign_up("bob", "bob@example.com", PASSWORD, "Bob", IP)
    assert not needs_code and user.confirmed
    held = pool.client.admin_get_user(UserPoolId=pool.pool_id, Username=user.id)
    assert held["UserStatus"] == "CONFIRMED"
    assert {"Name": "email_verified", "Value": "true"} in held["UserAttributes"]
    tokens, _ = await rig.auth.sign_in("bob", PASSWORD, IP)
    assert (await rig.auth.authenticate(tokens.access_token)).user_id == user.id


async def test_unconfirmed_accounts_can_be_discarded_confirmed_ones_cannot(rig: Rig) -> None:
    now = datetime.now(UTC)
    waiting = User("u-wait", "waiting", "waiting@example.com", "W", now, False)
    assert await rig.identity.register(waiting, PASSWORD)
    ana = await signed_up(rig)
    assert await rig.identity.has_account(waiting.id)
    assert not await rig.identity.has_account("u-never")
    assert not await rig.identity.discard_unconfirmed(ana.id)
    assert await rig.identity.discard_unconfirmed(waiting.id)
    assert not await rig.identity.has_account(waiting.id)
    assert await rig.identity.discard_unconfirmed("u-never")


def _claims(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


async def test_a_token_signed_with_another_key_is_refused(rig: Rig) -> None:
    await signed_up(rig)
    tokens, _ = await rig.auth.sign_in("ana", PASSWORD, IP)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(_claims(tokens.access_token), stranger, "RS256", {"kid": "dummy"})
    with pytest.raises(Unauthorized):
        rig.identity.verify_access_token(forged)
    # The same claims, unsigned ("alg": "none"), and a token with its payload altered.
    with pytest.raises(Unauthorized):
        rig.identity.verify_access_token(jwt.encode(_claims(tokens.access_token), "", "none"))
    head, _, signature = tokens.access_token.split(".")
    altered = dict(_claims(tokens.access_token), username="someone-else")
    payload = base64.urlsafe_b64encode(json.dumps(altered).encode()).rstrip(b"=")
    with pytest.raises(Unauthorized):
        rig.identity.verify_access_token(f"{head}.{payload.decode()}.{signature}")
    assert (
        rig.identity.verify_access_token(tokens.access_token).user_id
        == _claims(tokens.access_token)["username"]
    )


async def test_expired_tokens_are_refused(pool: Pool) -> None:
    rig = rig_of(pool)
    await signed_up(rig)
    tokens, _ = await rig.auth.sign_in("ana", PASSWORD, IP)
    # moto's tokens live an hour; ours are refused after 15 minutes all the same.
    for later in (timedelta(minutes=16), timedelta(hours=2)):
        late = pool.identity(rig.store, clock=LaterClock(later))
        with pytest.raises(Unauthorized):
            late.verify_access_token(tokens.access_token)
    assert pool.identity(rig.store, clock=LaterClock(timedelta(minutes=14))).verify_access_token(
        tokens.access_token
    )


async def test_tokens_of_another_client_issuer_or_use_are_refused(pool: Pool) -> None:
    rig = rig_of(pool)
    await signed_up(rig)
    result = pool.client.initiate_auth(
        ClientId=pool.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": (await rig.store.read(_ana_id)), "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    assert rig.identity.verify_access_token(result["AccessToken"])
    other_client = pool.identity(rig.store, client_id=pool.other_client())
    with pytest.raises(Unauthorized):
        other_client.verify_access_token(result["AccessToken"])
    other_issuer = pool.identity(rig.store, issuer="https://cognito-idp.example/elsewhere")
    with pytest.raises(Unauthorized):
        other_issuer.verify_access_token(result["AccessToken"])
    with pytest.raises(Unauthorized):  # an id token offered as an access token
        rig.identity.verify_access_token(result["IdToken"])


def _ana_id(tx: Any) -> str:
    ana = tx.users.by_username("ana")
    assert ana is not None
    return str(ana.id)


def _identity_from_env(env: dict[str, str]) -> Callable[[Store, Clock], IdentityProvider]:
    """The identity the Lambda platform makes from these settings (its seam)."""
    make = aws_platform.identity(Settings(store="memory"), AwsSettings.from_env(env))
    assert make is not None
    return make


async def test_from_env_derives_the_issuer_from_the_pool(pool: Pool) -> None:
    store = MemoryStore()
    env = {
        "HUBBUB_COGNITO_USER_POOL_ID": pool.pool_id,
        "HUBBUB_COGNITO_CLIENT_ID": pool.client_id,
        "HUBBUB_COGNITO_JWKS_URL": f"{pool.moto.endpoint}/{pool.pool_id}/.well-known/jwks.json",
        "HUBBUB_AUTO_CONFIRM": "true",
    }
    identity = _identity_from_env(env)(store, SystemClock())
    user = User("u-env", "env", "env@example.com", "Env", datetime.now(UTC), False)
    await store.write(lambda tx: tx.users.insert(user))
    assert not await identity.register(user, PASSWORD)  # auto-confirmed
    user_id, tokens = await identity.sign_in("env", PASSWORD)
    assert user_id == user.id
    # The default issuer (moto's tokens carry the real AWS one) is accepted.
    assert identity.verify_access_token(tokens.access_token).user_id == user.id


async def test_moto_does_not_run_the_pre_sign_up_trigger(pool: Pool) -> None:
    """Why the local stage confirms through the admin API: a pool with a PreSignUp
    trigger still leaves the sign-up unconfirmed under moto (Lambdas need Docker)."""
    arn = "arn:aws:lambda:us-east-1:123456789012:function:hubbub-local-preSignUp"
    pool.client.update_user_pool(UserPoolId=pool.pool_id, LambdaConfig={"PreSignUp": arn})
    answer = pool.client.sign_up(
        ClientId=pool.client_id,
        Username="01trigger",
        Password="Passw0rd!Passw0rd",  # (update_user_pool restored moto's default policy)
        UserAttributes=[{"Name": "email", "Value": "t@example.com"}],
    )
    assert answer["UserConfirmed"] is False


async def test_the_http_routes_answer_as_locally_on_cognito(pool: Pool) -> None:
    """The same ASGI app as `hubbub serve`, built with the Cognito identity (the seam
    the Lambda handlers use): status codes and error codes as the local server's."""
    settings = Settings(store="memory", token_secret="k" * 32)

    cognito = _identity_from_env(
        {
            "HUBBUB_COGNITO_USER_POOL_ID": pool.pool_id,
            "HUBBUB_COGNITO_CLIENT_ID": pool.client_id,
            "HUBBUB_COGNITO_JWKS_URL": f"{pool.moto.endpoint}/{pool.pool_id}/.well-known/jwks.json",
        }
    )
    platform = build(settings, identity=cognito)
    await platform.start()
    transport = httpx.ASGITransport(app=create_app(platform))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://hubbub") as http:
            signup = {
                "username": "cleo",
                "email": "cleo@example.com",
                "password": PASSWORD,
                "displayName": "Cleo",
            }
            made = await http.post("/api/auth/signup", json=signup)
            assert made.status_code == 201 and made.json()["confirmationRequired"] is True
            taken = await http.post("/api/auth/signup", json=signup)
            assert (taken.status_code, taken.json()["error"]["code"]) == (409, "conflict")
            early = await http.post(
                "/api/auth/signin", json={"username": "cleo", "password": PASSWORD}
            )
            assert (early.status_code, early.json()["error"]["code"]) == (403, "user_not_confirmed")
            confirmed = await http.post("/api/auth/confirm", json={"username": "cleo", "code": "1"})
            assert confirmed.status_code == 200

            wrong = await http.post("/api/auth/signin", json={"username": "cleo", "password": "no"})
            assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "unauthorized")
            signed = await http.post(
                "/api/auth/signin", json={"username": "cleo@example.com", "password": PASSWORD}
            )
            assert signed.status_code == 200
            bearer = {"Authorization": f"Bearer {signed.json()['accessToken']}"}
            assert (await http.post("/api/auth/ws-ticket", headers=bearer)).status_code == 200
            refreshed = await http.post(
                "/api/auth/refresh", json={"refreshToken": signed.json()["refreshToken"]}
            )
            assert refreshed.status_code == 200
            # Cognito's refresh tokens are about 1.8 KB: a long one is refused as unknown
            # (401), not as malformed (422).
            long = await http.post("/api/auth/refresh", json={"refreshToken": "r" * 1800})
            assert long.status_code == 401

            out = await http.post("/api/auth/signout", headers=bearer, json={})
            assert out.status_code == 204
            after = await http.post("/api/auth/ws-ticket", headers=bearer)
            assert (after.status_code, after.json()["error"]["code"]) == (401, "unauthorized")
    finally:
        await platform.close()
