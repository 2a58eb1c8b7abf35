"""Registration, sign-in, token rotation and WebSocket tickets."""

from __future__ import annotations

import ipaddress
from collections.abc import Container
from dataclasses import dataclass, replace
from datetime import timedelta

from hubbub.domain import rules
from hubbub.domain.errors import Conflict, NotFound, RateLimited, Unauthorized
from hubbub.domain.models import User
from hubbub.ports import (
    Clock,
    IdentityProvider,
    IdGenerator,
    RateLimiter,
    Session,
    SessionConnections,
    SessionStore,
    Store,
    TicketStore,
    TokenReused,
    TokenSet,
    Transaction,
)
from hubbub.services.devices import KnownDevices

# A sign-up whose profile is this old without an account was cut short (a crash
# between its two writes); a younger one may still be hashing the password, in this
# process or any other, started before or after it.
ABANDONED_AFTER = timedelta(minutes=10)
# An unconfirmed sign-up holds its username and email this long (the life of its first
# code; resending does not extend it), then the next sign-up for either replaces it.
UNCONFIRMED_EXPIRE_AFTER = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """Limits on the unauthenticated edges: attempts per window per key (token buckets:
    the limit at once, then one more every window/limit seconds).

    Sign-in is limited per source address, per account *from* one source, and per
    account from all sources together with a higher limit: one source cannot lock an
    account (its own budget runs out first), and many sources together still get only
    `sign_in_per_account_total` guesses per window."""

    ticket_ttl_seconds: int = 30
    sign_in_per_account: int = 10
    sign_in_per_account_total: int = 30
    sign_in_per_ip: int = 50
    sign_up_per_ip: int = 20
    codes_per_account: int = 5
    codes_per_ip: int = 30
    tickets_per_minute: int = 60
    window_seconds: int = 300
    # How long an access token lives: an ended session is remembered that long.
    access_ttl_seconds: int = 900


class AuthService:
    def __init__(
        self,
        store: Store,
        identity: IdentityProvider,
        tickets: TicketStore,
        limiter: RateLimiter,
        ids: IdGenerator,
        clock: Clock,
        policy: AuthPolicy | None = None,
        *,
        sessions: SessionStore,
        connections: SessionConnections,
        devices: KnownDevices | None = None,
        common_passwords: Container[str],
    ) -> None:
        self._store = store
        self._identity = identity
        self._tickets = tickets
        self._limiter = limiter
        self._ids = ids
        self._clock = clock
        self._policy = policy or AuthPolicy()
        self._devices = devices
        self._sessions = sessions
        self._connections = connections
        self._common_passwords = common_passwords

    async def sign_up(
        self, username: str, email: str, password: str, display_name: str, client_ip: str
    ) -> tuple[User, bool]:
        """Creates the profile and the account; returns (user, confirmation required).

        The profile claims the username first; if the identity provider then fails,
        the profile is removed so the name is free again.
        """
        await self._limit(f"signup:ip:{_source(client_ip)}", self._policy.sign_up_per_ip)
        await self._limit(f"signup:name:{username.strip().lower()}", self._policy.codes_per_account)
        user = User(
            id=self._ids.new_id(),
            username=rules.username(username),
            email=rules.email(email),
            display_name=rules.display_name(display_name),
            created_at=self._clock.now(),
            confirmed=False,
        )
        rules.password(
            password, common=self._common_passwords, personal=(user.username, user.email)
        )
        try:
            await self._store.write(lambda tx: tx.users.insert(user))
        except Conflict as taken:
            if not await self._free_abandoned(user):
                raise await self._which_taken(user) from taken
            try:
                await self._store.write(lambda tx: tx.users.insert(user))
            except Conflict as again:
                raise await self._which_taken(user) from again
        try:
            confirmation_required = await self._identity.register(user, password)
        except BaseException:
            await self._store.write(lambda tx: tx.users.delete(user.id))
            raise
        if not confirmation_required:
            user = await self._store.write(lambda tx: _mark_confirmed(tx, user.id))
        return user, confirmation_required

    async def confirm(self, username: str, code: str, client_ip: str = "unknown") -> User:
        await self._limit(f"confirm:ip:{_source(client_ip)}", self._policy.codes_per_ip)
        await self._limit(
            f"confirm:{await self._account_key(username)}", self._policy.codes_per_account
        )
        user_id = await self._identity.confirm(username.strip().lower(), code.strip())
        return await self._store.write(lambda tx: _mark_confirmed(tx, user_id))

    async def resend_code(self, username: str, client_ip: str = "unknown") -> None:
        await self._limit(f"resend:ip:{_source(client_ip)}", self._policy.codes_per_ip)
        await self._limit(f"resend:{username.strip().lower()}", self._policy.codes_per_account)
        await self._identity.resend_code(username.strip().lower())

    async def sign_in(
        self, login: str, password: str, client_ip: str, device: str | None = None
    ) -> tuple[TokenSet, User]:
        """Never says whether the account exists: every failure is the same 401.

        `device` is a token from `remember_device` (see services/devices.py): a browser
        that signed in to this account before skips the account's shared budget."""
        source = _source(client_ip)
        await self._limit(f"signin:ip:{source}", self._policy.sign_in_per_ip)
        account = await self._account_key(login)
        await self._limit(f"signin:account:{account}:{source}", self._policy.sign_in_per_account)
        if not self._known_device(device, account):
            await self._limit(f"signin:account:{account}", self._policy.sign_in_per_account_total)
        user_id, tokens = await self._identity.sign_in(login.strip().lower(), password)
        user = await self._store.read(lambda tx: tx.users.get(user_id))
        if user is None:
            raise Unauthorized("Invalid username or password.")
        if not user.confirmed:
            # The account is confirmed (or sign-in would have failed) but a crash kept
            # the profile from hearing it: finish the job.
            user = await self._store.write(lambda tx: _mark_confirmed(tx, user_id))
        return tokens, user

    async def forgot_password(self, login: str, client_ip: str = "unknown") -> None:
        """Sends a password reset code to the account named by username or email, if it
        exists and is confirmed; answers the same either way (no enumeration)."""
        await self._limit(f"forgot:ip:{_source(client_ip)}", self._policy.codes_per_ip)
        await self._limit(
            f"forgot:{await self._account_key(login)}", self._policy.codes_per_account
        )
        await self._identity.forgot_password(login.strip().lower())

    async def reset_password(
        self, login: str, code: str, new_password: str, client_ip: str = "unknown"
    ) -> None:
        """Sets a new password with a reset code and ends every session of the account
        (refresh and access tokens, sockets).
        Attempts are limited per account like confirmation codes; every bad code, for
        any account or none, is the same `ValidationFailed`. The new password may not be
        the login it was asked for (compared with nothing else: which email goes with a
        username is not told to someone who only holds a code request)."""
        rules.password(new_password, common=self._common_passwords, personal=(login,))
        await self._limit(f"reset:ip:{_source(client_ip)}", self._policy.codes_per_ip)
        await self._limit(f"reset:{await self._account_key(login)}", self._policy.codes_per_account)
        ended = await self._identity.confirm_forgot_password(
            login.strip().lower(), code.strip(), new_password
        )
        await self._end(ended)

    def remember_device(self, user_id: str) -> str | None:
        """A device token for the browser that just signed in as `user_id` (None when
        this service does not keep them)."""
        return self._devices.issue(user_id) if self._devices else None

    def _known_device(self, device: str | None, account: str) -> bool:
        holder = self._devices.user_of(device) if self._devices else None
        return holder is not None and account == f"id:{holder}"

    async def refresh(self, refresh_token: str) -> TokenSet:
        """Rotates the refresh token; a stolen copy used after the real owner (or the
        other way round) ends the whole session, access tokens and sockets too."""
        try:
            return await self._identity.refresh(refresh_token)
        except TokenReused as reuse:
            await self._end([reuse.session_id])
            raise Unauthorized(reuse.message) from None

    async def sign_out(self, caller: Session, refresh_token: str | None, everywhere: bool) -> None:
        """Ends the caller's session (and the one `refresh_token` belongs to), or every
        session of the caller: their refresh and access tokens stop working and their
        WebSocket connections are closed before this returns."""
        await self._end(await self._identity.sign_out(caller, refresh_token, everywhere))

    async def authenticate(self, access_token: str) -> Session:
        """The session behind a bearer token, or `Unauthorized` (also once it ended)."""
        session = self._identity.verify_access_token(access_token)
        if await self._sessions.is_ended(session.session_id):
            raise Unauthorized("This session has ended; sign in again.")
        return session

    async def issue_ticket(self, caller: Session) -> tuple[str, int]:
        await self._limit(f"ticket:{caller.user_id}", self._policy.tickets_per_minute, window=60)
        ttl = self._policy.ticket_ttl_seconds
        return await self._tickets.issue(caller, ttl), ttl

    async def redeem_ticket(self, ticket: str) -> Session | None:
        """The ticket's session, once; None if it is unknown, expired or spent, or its
        session has ended since."""
        if not ticket or len(ticket) > 256:
            return None
        session = await self._tickets.consume(ticket)
        if session is None or await self._sessions.is_ended(session.session_id):
            return None
        return session

    async def _end(self, session_ids: list[str]) -> None:
        until = self._clock.now() + timedelta(seconds=self._policy.access_ttl_seconds)
        await self._sessions.end(session_ids, until)
        await self._connections.close_sessions(session_ids)

    async def _account_key(self, login: str) -> str:
        """One rate-limit key per account whether it is named by username or email
        (the same for existing and unknown logins, so it reveals nothing)."""
        name = login.strip().lower()

        def lookup(tx: Transaction) -> User | None:
            return tx.users.by_username(name) or tx.users.by_email(name)

        holder = await self._store.read(lookup)
        return f"id:{holder.id}" if holder else f"name:{name}"

    async def _which_taken(self, user: User) -> Conflict:
        """The sign-up conflict naming the field that is taken (username first), so the
        person knows what to change (SECURITY.md: sign-up tells which is registered)."""

        def holders(tx: Transaction) -> tuple[User | None, User | None]:
            return tx.users.by_username(user.username), tx.users.by_email(user.email)

        by_name, by_email = await self._store.read(holders)
        if by_name is not None:
            return Conflict(
                "That username is taken. Choose another.", details={"field": "username"}
            )
        if by_email is not None:
            return Conflict(
                "That email address is already registered. Sign in, or reset the password"
                " if you forgot it.",
                details={"field": "email"},
            )
        return Conflict("That username or email is already registered.")

    async def _free_abandoned(self, user: User) -> bool:
        """Frees the username and email of `user` when they are held only by sign-ups
        that never finished: unconfirmed profiles with no account behind them, created
        longer ago than ABANDONED_AFTER by the shared clock (when the process started
        says nothing: another process, started earlier or later, may be hashing that
        sign-up's password right now), and unconfirmed sign-ups older than
        UNCONFIRMED_EXPIRE_AFTER (their account is discarded too). Returns whether there
        is now room for `user`."""

        def holders(tx: Transaction) -> list[User]:
            found = [tx.users.by_username(user.username), tx.users.by_email(user.email)]
            return list({u.id: u for u in found if u is not None}.values())

        now = self._clock.now()
        abandoned = []
        expired = []
        for holder in await self._store.read(holders):
            if holder.confirmed:
                return False
            if now - holder.created_at >= UNCONFIRMED_EXPIRE_AFTER:
                expired.append(holder.id)
                continue
            stale = now - holder.created_at > ABANDONED_AFTER
            if not stale or await self._identity.has_account(holder.id):
                return False
            abandoned.append(holder.id)
        for user_id in expired:
            # Only while still unconfirmed: a confirm racing this one wins.
            if not await self._identity.discard_unconfirmed(user_id):
                return False
            abandoned.append(user_id)

        def free(tx: Transaction) -> None:
            for user_id in abandoned:
                held = tx.users.get(user_id)
                if held is not None and not held.confirmed:
                    tx.users.delete(user_id)

        await self._store.write(free)
        return True

    async def _limit(self, key: str, limit: int, window: int | None = None) -> None:
        retry_after = await self._limiter.hit(key, limit, window or self._policy.window_seconds)
        if retry_after is not None:
            raise RateLimited("Too many attempts; try again later.", retry_after=retry_after)


def _source(client_ip: str) -> str:
    """The rate-limit key of an address: an IPv6 host usually holds a whole /64, so
    that is one source."""
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _mark_confirmed(tx: Transaction, user_id: str) -> User:
    user = tx.users.get(user_id)
    if user is None:
        raise NotFound("User not found.")
    if not user.confirmed:
        user = replace(user, confirmed=True)
        tx.users.update(user)
    return user
