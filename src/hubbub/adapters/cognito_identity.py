"""`IdentityProvider` on an Amazon Cognito user pool (boto3 `cognito-idp`).

**Our user id is Cognito's username.** Sign-up creates the Cognito user with
`Username = user.id` (the id our store already gave the profile), so the id is ours,
stable, and the same in every table; Cognito's `sub` is never used. People sign in with
their username or email: the login is resolved through our Users table to the id, and
that id is what `InitiateAuth` (USER_PASSWORD_AUTH) receives. So the pool must not use
`UsernameAttributes` (which would make the email the username); the email is a plain
attribute, verified by the confirmation code (`AutoVerifiedAttributes: [email]`).

**Tokens are verified here**, against the pool's JWKS (RS256, keys cached by `kid`; an
unknown `kid` refetches at most once per `jwks_refetch_seconds`), checking issuer,
`token_use == "access"`, `client_id` and expiry. The JWKS URL and the issuer are set
apart because emulators (moto) sign with the real AWS issuer but serve the keys
themselves. Nothing touches the network before the first verification.

**Sessions.** A sign-in is identified by the access token's `origin_jti` claim, which
Cognito keeps across refreshes of the same sign-in (the pool client needs token
revocation enabled, the default). It is the `Session.session_id` the auth service ends
in the `SessionStore`, so an ended session's access tokens stop working here at once,
whatever Cognito still accepts. Each sign-in is also written to the store's refresh-token
rows (`CredentialRepository`; the hash of Cognito's refresh token, family = origin_jti):
a ledger, not credentials, that tells which sign-in a refresh token belongs to and lists
a user's sign-ins, which Cognito cannot. `refresh` refuses a token whose row is gone.

**What differs from `LocalIdentity`:** passwords follow the pool's policy (our rule still
runs first in the auth service); Cognito sends the codes (no `CodeSender`); refresh
tokens are not rotated and reuse is not detected (SECURITY.md); access tokens older than
`access_ttl_seconds` are refused even if Cognito gave them a longer life, so ending a
session for that long (AuthPolicy.access_ttl_seconds) covers every token it issued.

**What the pool and its app client must be** (the shared stack's job): no
`UsernameAttributes`; `AutoVerifiedAttributes: [email]`; a password policy of length
only (8, as our rule; no composition demands); the client without a secret, with
ALLOW_USER_PASSWORD_AUTH and ALLOW_REFRESH_TOKEN_AUTH, `EnableTokenRevocation`, and
`PreventUserExistenceErrors: ENABLED`. The functions need cognito-idp AdminGetUser,
AdminDeleteUser, AdminUserGlobalSignOut (and AdminConfirmSignUp with
AdminUpdateUserAttributes where `auto_confirm` is on); the other calls are public ones.

boto3 is synchronous: each call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

import boto3
import jwt
from botocore.exceptions import BotoCoreError, ClientError

from hubbub.adapters.credentials import BAD_TOKEN, VerifiedTokens, digest, signing_out
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
from hubbub.ports import Clock, RefreshToken, Session, Store, TokenSet, Transaction

log = logging.getLogger(__name__)

BAD_CODE = "That code is not valid or has expired."
BAD_LOGIN = "Invalid username or password."
BAD_REFRESH = "Refresh token is not valid; sign in again."
# Verified access tokens remembered per process (oldest dropped first), as locally.
VERIFIED_TOKENS = 4096

JwksFetch = Callable[[], Mapping[str, Any]]


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _message(error: ClientError, default: str) -> str:
    """Cognito's own message for the error, or `default` when it gives none."""
    return str(error.response.get("Error", {}).get("Message", "")).strip() or default


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


# Cognito's throttles, with how long to wait: per-account code and password attempt
# limits last minutes; request-rate throttles clear in seconds.
_THROTTLES = {
    "LimitExceededException": 60,
    "TooManyFailedAttemptsException": 60,
    "TooManyRequestsException": 5,
}


def _domain_error(error: ClientError, fallback: DomainError | None) -> Exception:
    """The domain error a Cognito error means here: throttles are `RateLimited`, a weak
    password is `ValidationFailed` on the password field, Cognito's own failures are
    `Unavailable`; anything else is `fallback` (the operation's one answer for every
    refusal), or the original error when there is none (a bug or misconfiguration)."""
    code = _code(error)
    if code in _THROTTLES:
        return RateLimited("Too many attempts; try again later.", retry_after=_THROTTLES[code])
    if code == "InvalidPasswordException":
        return ValidationFailed(
            f"Choose another password: {_message(error, 'it does not meet the password policy.')}",
            details={"field": "password"},
        )
    if code in ("InternalErrorException", "ServiceUnavailableException") or _status(error) >= 500:
        return Unavailable("The identity service cannot be reached; try again later.")
    return fallback if fallback is not None else error


class JwksKeys:
    """The pool's signing keys by `kid`, fetched on first need and again, at most once
    per `refetch_seconds`, when a token names a key not seen yet (a rotation)."""

    def __init__(
        self,
        url: str,
        *,
        fetch: JwksFetch | None = None,
        refetch_seconds: float = 60,
        timeout_seconds: float = 5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._fetch = fetch or self._fetch_url
        self._refetch = refetch_seconds
        self._timeout = timeout_seconds
        self._monotonic = monotonic
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> Any | None:
        """The public key for `kid`, or None if the pool does not have it."""
        with self._lock:
            found = self._keys.get(kid)
            if found is not None:
                return found
            now = self._monotonic()
            if self._fetched_at is not None and now - self._fetched_at < self._refetch:
                return None
            self._fetched_at = now
            try:
                document = self._fetch()
            except Exception:  # any failure: the token is refused, not the process
                log.warning("fetching the Cognito JWKS from %s failed", self._url, exc_info=True)
                return None
            keys = {}
            for entry in document.get("keys", []):
                if entry.get("kty") == "RSA" and isinstance(entry.get("kid"), str):
                    keys[entry["kid"]] = jwt.PyJWK(entry, algorithm="RS256").key
            self._keys = keys
            return keys.get(kid)

    def _fetch_url(self) -> Mapping[str, Any]:
        with urllib.request.urlopen(self._url, timeout=self._timeout) as response:
            document = json.load(response)
        if not isinstance(document, dict):
            raise ValueError("the JWKS is not a JSON object")
        return document


class CognitoIdentity:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        user_pool_id: str,
        client_id: str,
        region: str | None = None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        auto_confirm: bool = False,
        client: Any = None,
        jwks_fetch: JwksFetch | None = None,
        jwks_refetch_seconds: float = 60,
        access_ttl_seconds: int = 900,
        refresh_ttl_days: int = 30,
    ) -> None:
        """`auto_confirm` confirms each sign-up through AdminConfirmSignUp right after
        SignUp: the local stage's stand-in for the PreSignUp trigger, which emulators do
        not run. `client` is a boto3 `cognito-idp` client (made here by default; boto3
        honours AWS_ENDPOINT_URL). `refresh_ttl_days` should match the app client's
        refresh token validity."""
        self._store = store
        self._clock = clock
        self._pool = user_pool_id
        self._client_id = client_id
        region = region or user_pool_id.split("_", 1)[0]
        self._issuer = issuer or f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
        self._jwks = JwksKeys(
            jwks_url or f"{self._issuer}/.well-known/jwks.json",
            fetch=jwks_fetch,
            refetch_seconds=jwks_refetch_seconds,
        )
        self._auto_confirm = auto_confirm
        self._access_ttl = access_ttl_seconds
        self._refresh_ttl = timedelta(days=refresh_ttl_days)
        self._verified = VerifiedTokens(VERIFIED_TOKENS)
        self._cognito = client or boto3.client("cognito-idp", region_name=region)

    async def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = await asyncio.to_thread(
                getattr(self._cognito, operation), **params
            )
        except BotoCoreError as error:
            raise Unavailable("The identity service cannot be reached; try again later.") from (
                error
            )
        return result

    async def _user_of(self, login: str) -> User | None:
        name = login.strip().lower()

        def lookup(tx: Transaction) -> User | None:
            return tx.users.by_username(name) or tx.users.by_email(name)

        return await self._store.read(lookup)

    async def register(self, user: User, password: str) -> bool:
        try:
            answer = await self._call(
                "sign_up",
                ClientId=self._client_id,
                Username=user.id,
                Password=password,
                UserAttributes=[{"Name": "email", "Value": user.email}],
            )
        except ClientError as error:
            if _code(error) in ("UsernameExistsException", "AliasExistsException"):
                raise Conflict("That username or email is already registered.") from error
            # Cognito's own checks of what we send (an email it will not take); anything
            # else is no fault of the person signing up.
            invalid = _code(error) == "InvalidParameterException"
            refused = "The identity service refused this sign-up."
            fallback = ValidationFailed(_message(error, refused)) if invalid else None
            raise _domain_error(error, fallback) from error
        if answer.get("UserConfirmed"):
            return False  # a PreSignUp trigger confirmed it
        if not self._auto_confirm:
            return True
        await self._call("admin_confirm_sign_up", UserPoolId=self._pool, Username=user.id)
        await self._call(
            "admin_update_user_attributes",
            UserPoolId=self._pool,
            Username=user.id,
            UserAttributes=[{"Name": "email_verified", "Value": "true"}],
        )
        return False

    async def confirm(self, username: str, code: str) -> str:
        user = await self._user_of(username)
        if user is None:
            raise ValidationFailed(BAD_CODE)
        try:
            await self._call(
                "confirm_sign_up", ClientId=self._client_id, Username=user.id, ConfirmationCode=code
            )
        except ClientError as error:
            raise _domain_error(error, ValidationFailed(BAD_CODE)) from error
        return user.id

    async def resend_code(self, username: str) -> None:
        """Silently does nothing for unknown or confirmed accounts (no enumeration)."""
        user = await self._user_of(username)
        if user is None or user.confirmed:
            return
        await self._quietly("resend_confirmation_code", Username=user.id)

    async def _quietly(self, operation: str, **params: Any) -> None:
        """A code request whose refusals are not told (they would say which accounts
        exist); throttling still is, as it says nothing about the account."""
        try:
            await self._call(operation, ClientId=self._client_id, **params)
        except ClientError as error:
            mapped = _domain_error(error, None)
            if isinstance(mapped, RateLimited):
                raise mapped from error
            log.info("Cognito %s refused: %s", operation, _code(error))

    async def sign_in(self, login: str, password: str) -> tuple[str, TokenSet]:
        user = await self._user_of(login)
        # An unknown login still asks Cognito (for a name nobody has), so both take as long.
        username = user.id if user else f"unknown-{secrets.token_hex(8)}"
        try:
            answer = await self._call(
                "initiate_auth",
                ClientId=self._client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": username, "PASSWORD": password},
            )
        except ClientError as error:
            if _code(error) == "UserNotConfirmedException":
                raise NotConfirmed("Confirm your account with the code we sent first.") from error
            raise _domain_error(error, Unauthorized(BAD_LOGIN)) from error
        result = answer.get("AuthenticationResult")
        if user is None or not result:
            # A challenge (MFA, a forced new password) is not something this API offers.
            raise Unauthorized(BAD_LOGIN)
        try:
            session, expires_in = await asyncio.to_thread(self._tokens_session, result)
        except Unauthorized as error:
            # Cognito's own fresh token does not verify: the JWKS URL or issuer is wrong,
            # or the JWKS cannot be fetched.
            log.error("a token Cognito just issued does not verify: check the JWKS and issuer")
            raise Unavailable("Sign-in is unavailable; try again later.") from error
        if session.user_id != user.id:
            raise Unauthorized(BAD_LOGIN)
        refresh = str(result["RefreshToken"])
        ledger = RefreshToken(
            token_hash=digest(refresh),
            user_id=user.id,
            family_id=session.session_id,
            expires_at=self._clock.now() + self._refresh_ttl,
        )
        await self._store.write(lambda tx: tx.credentials.add_refresh(ledger))
        return user.id, TokenSet(str(result["AccessToken"]), refresh, expires_in)

    def _tokens_session(self, result: Mapping[str, Any]) -> tuple[Session, int]:
        """The session of tokens Cognito just issued (run in a worker thread, as the
        JWKS may need fetching; the verified-token cache is left to the event loop)."""
        session, _ = self._check(str(result["AccessToken"]), self._clock.now().timestamp())
        return session, min(int(result.get("ExpiresIn", self._access_ttl)), self._access_ttl)

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Cognito's REFRESH_TOKEN_AUTH: a new access token for the same sign-in. The
        refresh token is not rotated (unless the pool rotates it) and a reused one is not
        detected: Cognito has no such thing (SECURITY.md). A token whose sign-in was
        ended here is refused even if Cognito would still take it."""
        presented = digest(refresh_token)
        now = self._clock.now()
        record = await self._store.read(lambda tx: tx.credentials.get_refresh(presented))
        if record is None or record.expires_at <= now:
            raise Unauthorized(BAD_REFRESH)
        try:
            answer = await self._call(
                "initiate_auth",
                ClientId=self._client_id,
                AuthFlow="REFRESH_TOKEN_AUTH",
                AuthParameters={"REFRESH_TOKEN": refresh_token},
            )
        except ClientError as error:
            raise _domain_error(error, Unauthorized(BAD_REFRESH)) from error
        result = answer.get("AuthenticationResult") or {}
        if "AccessToken" not in result:
            raise Unauthorized(BAD_REFRESH)
        try:
            session, expires_in = await asyncio.to_thread(self._tokens_session, result)
        except Unauthorized:
            raise Unauthorized(BAD_REFRESH) from None
        if session.session_id != record.family_id or session.user_id != record.user_id:
            raise Unauthorized(BAD_REFRESH)
        rotated = result.get("RefreshToken")
        if rotated and rotated != refresh_token:
            successor = RefreshToken(
                digest(rotated), record.user_id, record.family_id, now + self._refresh_ttl
            )

            def rotate(tx: Transaction) -> bool:
                tx.credentials.claim_refresh(presented, now)
                return tx.credentials.add_refresh(successor, after=presented)

            if not await self._store.write(rotate):
                raise Unauthorized(BAD_REFRESH)  # its sign-in ended meanwhile
        return TokenSet(str(result["AccessToken"]), str(rotated or refresh_token), expires_in)

    async def sign_out(
        self, session: Session, refresh_token: str | None, everywhere: bool
    ) -> list[str]:
        """Everywhere: AdminUserGlobalSignOut, which revokes every refresh token of the
        user in Cognito. One session: RevokeToken for the refresh token when the client
        sends it (best effort: without it, or if Cognito fails, the ledger row is gone
        and `refresh` refuses it here all the same)."""
        if everywhere:
            try:
                await self._call(
                    "admin_user_global_sign_out", UserPoolId=self._pool, Username=session.user_id
                )
            except ClientError as error:
                if _code(error) != "UserNotFoundException":
                    raise _domain_error(error, None) from error

            return await self._store.write(signing_out(session, None, everywhere=True))

        ended = await self._store.write(signing_out(session, refresh_token, everywhere=False))
        if refresh_token:
            try:
                await self._call("revoke_token", Token=refresh_token, ClientId=self._client_id)
            except (ClientError, Unavailable) as error:
                log.warning("Cognito RevokeToken failed (ended here all the same): %s", error)
        return ended

    def verify_access_token(self, token: str) -> Session:
        now = self._clock.now().timestamp()
        session = self._verified.known(token, now)
        if session is not None:
            return session
        session, expires = self._check(token, now)
        self._verified.remember(token, session, expires)
        return session

    def _check(self, token: str, now: float) -> tuple[Session, float]:
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            key = self._jwks.key(kid) if isinstance(kid, str) else None
            if key is None:
                raise Unauthorized(BAD_TOKEN)
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                issuer=self._issuer,
                # Expiry is checked below against the injected clock; access tokens
                # carry `client_id`, not `aud`.
                options={
                    "require": ["exp", "iat", "iss", "sub"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_aud": False,
                },
            )
        except jwt.PyJWTError as error:
            raise Unauthorized(BAD_TOKEN) from error
        user_id = claims.get("username")
        session_id = claims.get("origin_jti")
        issued = claims.get("iat")
        expires = claims.get("exp")
        if (
            claims.get("token_use") != "access"
            or claims.get("client_id") != self._client_id
            or not isinstance(user_id, str)
            or not user_id
            or not isinstance(session_id, str)
            or not session_id
            or not isinstance(issued, int)
            or not isinstance(expires, int)
        ):
            raise Unauthorized(BAD_TOKEN)
        # No older than our access-token life, however long Cognito made it.
        until = min(float(expires), float(issued + self._access_ttl))
        if until <= now:
            raise Unauthorized(BAD_TOKEN)
        return Session(user_id=user_id, session_id=session_id), until

    async def has_account(self, user_id: str) -> bool:
        return await self._status_of(user_id) is not None

    async def _status_of(self, user_id: str) -> str | None:
        try:
            answer = await self._call("admin_get_user", UserPoolId=self._pool, Username=user_id)
        except ClientError as error:
            if _code(error) == "UserNotFoundException":
                return None
            raise _domain_error(error, None) from error
        return str(answer.get("UserStatus", ""))

    async def discard_unconfirmed(self, user_id: str) -> bool:
        """AdminDeleteUser while UNCONFIRMED. Cognito has no conditional delete, so a
        confirm landing between the check and the delete loses its account: the window
        is one round trip, on a sign-up a day old, raced only by its own code."""
        status = await self._status_of(user_id)
        if status is None:
            return True
        if status != "UNCONFIRMED":
            return False
        try:
            await self._call("admin_delete_user", UserPoolId=self._pool, Username=user_id)
        except ClientError as error:
            if _code(error) != "UserNotFoundException":
                raise _domain_error(error, None) from error
        await self._store.write(lambda tx: tx.credentials.revoke_user(user_id))
        return True

    async def forgot_password(self, login: str) -> None:
        """ForgotPassword: Cognito emails the code (to confirmed accounts only)."""
        user = await self._user_of(login)
        if user is None or not user.confirmed:
            return
        await self._quietly("forgot_password", Username=user.id)

    async def confirm_forgot_password(self, login: str, code: str, new_password: str) -> list[str]:
        """ConfirmForgotPassword, then AdminUserGlobalSignOut: Cognito does not end the
        account's sessions on a reset by itself."""
        user = await self._user_of(login)
        if user is None or not user.confirmed:
            raise ValidationFailed(BAD_CODE)
        try:
            await self._call(
                "confirm_forgot_password",
                ClientId=self._client_id,
                Username=user.id,
                ConfirmationCode=code,
                Password=new_password,
            )
        except ClientError as error:
            raise _domain_error(error, ValidationFailed(BAD_CODE)) from error
        try:
            await self._call("admin_user_global_sign_out", UserPoolId=self._pool, Username=user.id)
        except ClientError as error:
            raise _domain_error(error, None) from error

        def end_all(tx: Transaction) -> list[str]:
            ended = sorted(tx.credentials.families_of(user.id))
            tx.credentials.revoke_user(user.id)
            return ended

        return await self._store.write(end_all)
