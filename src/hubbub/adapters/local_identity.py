"""Local password identity: argon2id hashes, HS256 access tokens, rotating refresh
tokens stored as SHA-256 hashes, and optional confirmation codes.

Shaped like Cognito's user pool so the two are interchangeable behind
`IdentityProvider`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from dataclasses import replace
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hubbub.domain.errors import NotConfirmed, Unauthorized, ValidationFailed
from hubbub.domain.models import User
from hubbub.ports import (
    Clock,
    CodeSender,
    Credential,
    RefreshToken,
    Store,
    TokenSet,
    Transaction,
)

ALGORITHM = "HS256"
AUDIENCE = "hubbub"
ISSUER = "hubbub-local"
CODE_TTL = timedelta(hours=24)
RESET_CODE_TTL = timedelta(hours=1)
# One answer for every failed confirm or reset, so neither tells whether an account exists.
BAD_CODE = "That code is not valid or has expired."


def _digest(secret_text: str) -> str:
    return hashlib.sha256(secret_text.encode()).hexdigest()


def _code_matches(credential: Credential, code: str, now: datetime) -> bool:
    expected = credential.confirmation_code_hash
    expires = credential.code_expires_at
    if expected is None or expires is None or expires < now:
        return False
    return hmac.compare_digest(expected, _digest(code))


class LocalIdentity:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        signing_key: bytes,
        code_sender: CodeSender | None = None,
        access_ttl_seconds: int = 900,
        refresh_ttl_days: int = 30,
        hasher: PasswordHasher | None = None,
    ) -> None:
        if len(signing_key) < 32:
            raise ValueError("the token signing key must be at least 32 bytes")
        self._store = store
        self._clock = clock
        self._key = signing_key
        self._sender = code_sender
        self._access_ttl = access_ttl_seconds
        self._refresh_ttl = timedelta(days=refresh_ttl_days)
        self._hasher = hasher or PasswordHasher()
        self._decoy_hash = self._hasher.hash(secrets.token_hex(16))

    async def register(self, user: User, password: str) -> bool:
        password_hash = await asyncio.to_thread(self._hasher.hash, password)
        code = self._new_code() if self._sender else None
        credential = Credential(
            user_id=user.id,
            username=user.username,
            email=user.email,
            password_hash=password_hash,
            confirmed=code is None,
            confirmation_code_hash=_digest(code) if code else None,
            code_expires_at=self._clock.now() + CODE_TTL if code else None,
        )
        await self._store.write(lambda tx: tx.credentials.put(credential))
        if code and self._sender:
            await self._sender.send(user.email, user.username, code)
        return code is not None

    async def confirm(self, username: str, code: str) -> str:
        now = self._clock.now()

        def work(tx: Transaction) -> str:
            credential = tx.credentials.by_login(username)
            if (
                credential is None
                or credential.confirmed
                or not _code_matches(credential, code, now)
            ):
                raise ValidationFailed(BAD_CODE)
            tx.credentials.put(replace(credential, confirmed=True, confirmation_code_hash=None))
            return credential.user_id

        return await self._store.write(work)

    async def resend_code(self, username: str) -> None:
        """Silently does nothing for unknown or confirmed accounts (no enumeration)."""
        if self._sender is None:
            return
        code = self._new_code()
        expires = self._clock.now() + CODE_TTL

        def work(tx: Transaction) -> Credential | None:
            credential = tx.credentials.by_login(username)
            if credential is None or credential.confirmed:
                return None
            tx.credentials.put(
                replace(credential, confirmation_code_hash=_digest(code), code_expires_at=expires)
            )
            return credential

        credential = await self._store.write(work)
        if credential is not None:
            await self._sender.send(credential.email, credential.username, code)

    async def sign_in(self, login: str, password: str) -> tuple[str, TokenSet]:
        credential = await self._store.read(lambda tx: tx.credentials.by_login(login))
        stored_hash = credential.password_hash if credential else self._decoy_hash
        valid = await asyncio.to_thread(self._verify, stored_hash, password)
        if credential is None or not valid:
            raise Unauthorized("Invalid username or password.")
        if not credential.confirmed:
            raise NotConfirmed("Confirm your account with the code we sent first.")
        tokens = await self._store.write(lambda tx: self._issue(tx, credential.user_id, None))
        return credential.user_id, tokens

    async def refresh(self, refresh_token: str) -> TokenSet:
        presented = _digest(refresh_token)
        now = self._clock.now()

        def work(tx: Transaction) -> TokenSet | None:
            record = tx.credentials.get_refresh(presented)
            if record is None or record.expires_at <= now:
                return None
            if record.used:
                tx.credentials.revoke_family(record.family_id)
                return None
            tx.credentials.put_refresh(replace(record, used=True))
            return self._issue(tx, record.user_id, record.family_id)

        tokens = await self._store.write(work)
        if tokens is None:
            raise Unauthorized("Refresh token is not valid; sign in again.")
        return tokens

    async def sign_out(self, user_id: str, refresh_token: str | None, everywhere: bool) -> None:
        def work(tx: Transaction) -> None:
            if everywhere:
                tx.credentials.revoke_user(user_id)
            elif refresh_token:
                record = tx.credentials.get_refresh(_digest(refresh_token))
                if record is not None and record.user_id == user_id:
                    tx.credentials.revoke_family(record.family_id)

        await self._store.write(work)

    def verify_access_token(self, token: str) -> str:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                # Expiry is checked below against the injected clock, the same one
                # that stamped the token.
                options={
                    "require": ["exp", "iat", "sub", "aud", "iss"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as error:
            raise Unauthorized("Access token is missing, invalid or expired.") from error
        subject = claims.get("sub")
        expires = claims.get("exp")
        now = self._clock.now().timestamp()
        if (
            claims.get("token_use") != "access"
            or not isinstance(subject, str)
            or not isinstance(expires, int)
            or expires <= now
        ):
            raise Unauthorized("Access token is missing, invalid or expired.")
        return subject

    async def has_account(self, user_id: str) -> bool:
        return await self._store.read(lambda tx: tx.credentials.get(user_id) is not None)

    async def forget(self, user_id: str) -> None:
        def work(tx: Transaction) -> None:
            credential = tx.credentials.get(user_id)
            if credential is not None:
                tx.credentials.revoke_user(user_id)
                tx.credentials.put(replace(credential, password_hash="!", confirmed=False))

        await self._store.write(work)

    async def discard_unconfirmed(self, user_id: str) -> bool:
        def work(tx: Transaction) -> bool:
            credential = tx.credentials.get(user_id)
            if credential is None:
                return True
            if credential.confirmed:
                return False
            tx.credentials.delete(user_id)
            tx.credentials.revoke_user(user_id)
            return True

        return await self._store.write(work)

    async def forgot_password(self, login: str) -> None:
        """The reset code sits in the account's one code slot, which a confirmed account
        otherwise leaves empty: so a reset code never confirms and a confirmation code
        never resets, and asking again replaces the earlier code."""
        if self._sender is None:
            return
        code = self._new_code()
        expires = self._clock.now() + RESET_CODE_TTL

        def work(tx: Transaction) -> Credential | None:
            credential = tx.credentials.by_login(login)
            if credential is None or not credential.confirmed:
                return None
            tx.credentials.put(
                replace(credential, confirmation_code_hash=_digest(code), code_expires_at=expires)
            )
            return credential

        credential = await self._store.write(work)
        if credential is not None:
            await self._sender.send(
                credential.email, credential.username, code, purpose="password_reset"
            )

    async def confirm_forgot_password(self, login: str, code: str, new_password: str) -> str:
        now = self._clock.now()

        def check(tx: Transaction) -> Credential | None:
            credential = tx.credentials.by_login(login)
            if credential is None or not credential.confirmed:
                return None
            return credential if _code_matches(credential, code, now) else None

        # The code is checked before the (deliberately slow) hash, so guesses cost little.
        checked = await self._store.read(check)
        if checked is None:
            raise ValidationFailed(BAD_CODE)
        password_hash = await asyncio.to_thread(self._hasher.hash, new_password)

        def spend(tx: Transaction) -> bool:
            current = tx.credentials.get(checked.user_id)
            if current is None or current.confirmation_code_hash != checked.confirmation_code_hash:
                return False  # spent or replaced while we hashed
            tx.credentials.put(
                replace(
                    current,
                    password_hash=password_hash,
                    confirmation_code_hash=None,
                    code_expires_at=None,
                )
            )
            tx.credentials.revoke_user(current.user_id)
            return True

        if not await self._store.write(spend):
            raise ValidationFailed(BAD_CODE)
        return checked.user_id

    def _issue(self, tx: Transaction, user_id: str, family_id: str | None) -> TokenSet:
        now = self._clock.now()
        access = jwt.encode(
            {
                "sub": user_id,
                "iat": int(now.timestamp()),
                "exp": int(now.timestamp()) + self._access_ttl,
                "iss": ISSUER,
                "aud": AUDIENCE,
                "jti": secrets.token_hex(8),
                "token_use": "access",
            },
            self._key,
            algorithm=ALGORITHM,
        )
        refresh = secrets.token_urlsafe(32)
        tx.credentials.put_refresh(
            RefreshToken(
                token_hash=_digest(refresh),
                user_id=user_id,
                family_id=family_id or secrets.token_hex(16),
                expires_at=now + self._refresh_ttl,
            )
        )
        return TokenSet(access_token=access, refresh_token=refresh, expires_in=self._access_ttl)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    @staticmethod
    def _new_code() -> str:
        return f"{secrets.randbelow(1_000_000):06d}"
