"""Local password identity: argon2id hashes, HS256 access tokens, rotating refresh
tokens stored as SHA-256 hashes, and optional confirmation codes.

A sign-in starts a session: a family of refresh tokens, each rotated into the next.
Its id is the access tokens' `sid` claim, so signing out can end them at once.

Shaped like Cognito's user pool so the two are interchangeable behind
`IdentityProvider`.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import secrets
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hubbub.adapters.credentials import BAD_TOKEN, VerifiedTokens, digest, signing_out
from hubbub.domain.errors import NotConfirmed, Unauthorized, ValidationFailed
from hubbub.domain.models import User
from hubbub.ports import (
    Clock,
    CodePurpose,
    CodeSender,
    Credential,
    RefreshToken,
    Session,
    Store,
    TokenReused,
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


def _code_matches(credential: Credential, code: str, now: datetime) -> bool:
    expected = credential.confirmation_code_hash
    expires = credential.code_expires_at
    if expected is None or expires is None or expires < now:
        return False
    return hmac.compare_digest(expected, digest(code))


# Verified access tokens remembered per process (oldest dropped first).
VERIFIED_TOKENS = 4096


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
        refresh_grace_seconds: float = 10,
        hasher: PasswordHasher | None = None,
    ) -> None:
        if len(signing_key) < 32:
            raise ValueError("the token signing key must be at least 32 bytes")
        self._store = store
        self._clock = clock
        self._key = signing_key
        # Access tokens that passed every check, with their expiry: a client sends the
        # same one with every request for its lifetime, and checking its signature
        # again was a quarter of a history page's time. Holds nothing a token does not
        # already grant; the expiry is still checked on every use.
        self._verified = VerifiedTokens(VERIFIED_TOKENS)
        self._sender = code_sender
        self._access_ttl = access_ttl_seconds
        self._refresh_ttl = timedelta(days=refresh_ttl_days)
        self._grace = timedelta(seconds=refresh_grace_seconds)
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
            confirmation_code_hash=digest(code) if code else None,
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
                or credential.confirmation_code_hash is None
                or not _code_matches(credential, code, now)
                # Only if that code is still the account's: not replaced or spent since.
                or not tx.credentials.confirm(credential.user_id, credential.confirmation_code_hash)
            ):
                raise ValidationFailed(BAD_CODE)
            return credential.user_id

        return await self._store.write(work)

    async def resend_code(self, username: str) -> None:
        """Silently does nothing for unknown or confirmed accounts (no enumeration)."""
        await self._send_code(username, CODE_TTL, "confirmation")

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
        """Each token's successor is derived from it (an HMAC under the server key), so
        a token presented twice within the grace, by two tabs refreshing at once, gets
        the same successor both times: the family stays one chain, and whoever holds
        a copy of it is caught at its next rotation. After the grace, or once that
        successor has been rotated in turn, presenting a rotated token revokes the
        family (`TokenReused`).

        Safe against concurrent refreshes and sign-outs: the token is marked used only
        if it is unused, by one conditional write, and only the caller that did so adds
        the successor, and only while the token is still stored (its family not
        revoked). A caller that lost the race reads the token again and is answered as
        a presentation within the grace: the same successor, never a second chain; a
        caller whose token was revoked meanwhile is refused, reviving nothing."""
        presented = digest(refresh_token)
        successor = self._successor(refresh_token)
        now = self._clock.now()

        def work(tx: Transaction) -> TokenSet | str | None:
            record = tx.credentials.get_refresh(presented)
            if record is None or record.expires_at <= now:
                return None
            if record.used_at is None:
                if tx.credentials.claim_refresh(presented, now):
                    return self._issue(
                        tx, record.user_id, record.family_id, successor, after=presented
                    )
                # Rotated or revoked since we read it: what is stored now decides.
                record = tx.credentials.get_refresh(presented)
                if record is None or record.used_at is None:
                    return None
            following = tx.credentials.get_refresh(digest(successor))
            late = now - record.used_at >= self._grace
            if late or following is None or following.used_at is not None:
                tx.credentials.revoke_family(record.family_id)
                return record.family_id
            return self._issue(tx, record.user_id, record.family_id, successor, following)

        outcome = await self._store.write(work)
        if isinstance(outcome, str):
            raise TokenReused(outcome)
        if outcome is None:
            raise Unauthorized("Refresh token is not valid; sign in again.")
        return outcome

    async def sign_out(
        self, session: Session, refresh_token: str | None, everywhere: bool
    ) -> list[str]:
        return await self._store.write(signing_out(session, refresh_token, everywhere))

    def verify_access_token(self, token: str) -> Session:
        session = self._verified.known(token, self._clock.now().timestamp())
        if session is not None:
            return session
        session, expires = self._check_access_token(token)
        self._verified.remember(token, session, expires)
        return session

    def _check_access_token(self, token: str) -> tuple[Session, int]:
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
            raise Unauthorized(BAD_TOKEN) from error
        subject = claims.get("sub")
        session_id = claims.get("sid")
        expires = claims.get("exp")
        now = self._clock.now().timestamp()
        if (
            claims.get("token_use") != "access"
            or not isinstance(subject, str)
            or not isinstance(session_id, str)
            or not session_id
            or not isinstance(expires, int)
            or expires <= now
        ):
            raise Unauthorized(BAD_TOKEN)
        return Session(user_id=subject, session_id=session_id), expires

    async def has_account(self, user_id: str) -> bool:
        return await self._store.read(lambda tx: tx.credentials.get(user_id) is not None)

    async def discard_unconfirmed(self, user_id: str) -> bool:
        def work(tx: Transaction) -> bool:
            # Conditional, so a confirm that commits meanwhile keeps its account.
            if tx.credentials.delete_unconfirmed(user_id):
                tx.credentials.revoke_user(user_id)
                return True
            return tx.credentials.get(user_id) is None

        return await self._store.write(work)

    async def forgot_password(self, login: str) -> None:
        """The reset code sits in the account's one code slot, which a confirmed account
        otherwise leaves empty: so a reset code never confirms and a confirmation code
        never resets, and asking again replaces the earlier code."""
        await self._send_code(login, RESET_CODE_TTL, "password_reset")

    async def _send_code(self, login: str, ttl: timedelta, purpose: CodePurpose) -> None:
        """A fresh code in the account's code slot, sent to its email: a confirmation code
        only to an unconfirmed account, a reset code only to a confirmed one. Only the
        slot changes, and only while the account is in that state, so a confirm or a
        reset that commits meanwhile is not undone. Unknown accounts get nothing."""
        if self._sender is None:
            return
        code = self._new_code()
        expires = self._clock.now() + ttl
        confirmed = purpose == "password_reset"

        def work(tx: Transaction) -> Credential | None:
            credential = tx.credentials.by_login(login)
            if credential is None or not tx.credentials.replace_code(
                credential.user_id, digest(code), expires, confirmed=confirmed
            ):
                return None
            return credential

        credential = await self._store.write(work)
        if credential is not None:
            await self._sender.send(credential.email, credential.username, code, purpose=purpose)

    async def confirm_forgot_password(self, login: str, code: str, new_password: str) -> list[str]:
        now = self._clock.now()

        def check(tx: Transaction) -> Credential | None:
            credential = tx.credentials.by_login(login)
            if credential is None or not credential.confirmed:
                return None
            return credential if _code_matches(credential, code, now) else None

        # The code is checked before the (deliberately slow) hash, so guesses cost little.
        checked = await self._store.read(check)
        code_hash = checked.confirmation_code_hash if checked else None
        if checked is None or code_hash is None:
            raise ValidationFailed(BAD_CODE)
        password_hash = await asyncio.to_thread(self._hasher.hash, new_password)

        def spend(tx: Transaction) -> list[str] | None:
            user_id = checked.user_id
            if not tx.credentials.set_password(user_id, password_hash, code_hash=code_hash):
                return None  # spent or replaced while we hashed
            ended = sorted(tx.credentials.families_of(user_id))
            tx.credentials.revoke_user(user_id)
            return ended

        ended = await self._store.write(spend)
        if ended is None:
            raise ValidationFailed(BAD_CODE)
        return ended

    def _issue(
        self,
        tx: Transaction,
        user_id: str,
        family_id: str | None,
        refresh: str | None = None,
        existing: RefreshToken | None = None,
        *,
        after: str | None = None,
    ) -> TokenSet:
        """A new access token and `refresh` (random for a new session), stored unless
        it is `existing` already; a successor of the token hashed `after` is stored
        only while that token still is (see `CredentialRepository.add_refresh`)."""
        now = self._clock.now()
        family_id = family_id or secrets.token_hex(16)
        access = jwt.encode(
            {
                "sub": user_id,
                "iat": int(now.timestamp()),
                "exp": int(now.timestamp()) + self._access_ttl,
                "iss": ISSUER,
                "aud": AUDIENCE,
                "jti": secrets.token_hex(8),
                "sid": family_id,
                "token_use": "access",
            },
            self._key,
            algorithm=ALGORITHM,
        )
        refresh = refresh or secrets.token_urlsafe(32)
        if existing is None:
            tx.credentials.add_refresh(
                RefreshToken(
                    token_hash=digest(refresh),
                    user_id=user_id,
                    family_id=family_id,
                    expires_at=now + self._refresh_ttl,
                ),
                after=after,
            )
        return TokenSet(access_token=access, refresh_token=refresh, expires_in=self._access_ttl)

    def _successor(self, refresh_token: str) -> str:
        mac = hmac.new(self._key, b"refresh-successor\0" + refresh_token.encode(), "sha256")
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    @staticmethod
    def _new_code() -> str:
        return f"{secrets.randbelow(1_000_000):06d}"
