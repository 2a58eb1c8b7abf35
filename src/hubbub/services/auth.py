"""Registration, sign-in, token rotation and WebSocket tickets."""

from __future__ import annotations

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

# A sign-up whose profile is this old without an account was cut short (a crash
# between its two writes); a younger one may still be hashing the password.
ABANDONED_AFTER = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class AuthPolicy:
    """Limits on the unauthenticated edges: attempts per window per key."""

    ticket_ttl_seconds: int = 30
    sign_in_per_account: int = 10
    sign_in_per_ip: int = 50
    sign_up_per_ip: int = 20
    codes_per_account: int = 5
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
    ) -> None:
        self._store = store
        self._identity = identity
        self._tickets = tickets
        self._limiter = limiter
        self._ids = ids
        self._clock = clock
        self._policy = policy or AuthPolicy()
        self._started = clock.now()
        self._sessions = sessions
        self._connections = connections

    async def sign_up(
        self, username: str, email: str, password: str, display_name: str, client_ip: str
    ) -> tuple[User, bool]:
        """Creates the profile and the account; returns (user, confirmation required).

        The profile claims the username first; if the identity provider then fails,
        the profile is removed so the name is free again.
        """
        await self._limit(f"signup:ip:{client_ip}", self._policy.sign_up_per_ip)
        await self._limit(f"signup:name:{username.strip().lower()}", self._policy.codes_per_account)
        user = User(
            id=self._ids.new_id(),
            username=rules.username(username),
            email=rules.email(email),
            display_name=rules.display_name(display_name),
            created_at=self._clock.now(),
            confirmed=False,
        )
        rules.password(password)
        try:
            await self._store.write(lambda tx: tx.users.insert(user))
        except Conflict:
            if not await self._free_abandoned(user):
                raise
            await self._store.write(lambda tx: tx.users.insert(user))
        try:
            confirmation_required = await self._identity.register(user, password)
        except BaseException:
            await self._store.write(lambda tx: tx.users.delete(user.id))
            raise
        if not confirmation_required:
            user = await self._store.write(lambda tx: _mark_confirmed(tx, user.id))
        return user, confirmation_required

    async def confirm(self, username: str, code: str) -> User:
        await self._limit(
            f"confirm:{await self._account_key(username)}", self._policy.codes_per_account
        )
        user_id = await self._identity.confirm(username.strip().lower(), code.strip())
        return await self._store.write(lambda tx: _mark_confirmed(tx, user_id))

    async def resend_code(self, username: str) -> None:
        await self._limit(f"resend:{username.strip().lower()}", self._policy.codes_per_account)
        await self._identity.resend_code(username.strip().lower())

    async def sign_in(self, login: str, password: str, client_ip: str) -> tuple[TokenSet, User]:
        """Never says whether the account exists: every failure is the same 401."""
        await self._limit(f"signin:ip:{client_ip}", self._policy.sign_in_per_ip)
        await self._limit(
            f"signin:account:{await self._account_key(login)}", self._policy.sign_in_per_account
        )
        user_id, tokens = await self._identity.sign_in(login.strip().lower(), password)
        user = await self._store.read(lambda tx: tx.users.get(user_id))
        if user is None:
            raise Unauthorized("Invalid username or password.")
        if not user.confirmed:
            # The account is confirmed (or sign-in would have failed) but a crash kept
            # the profile from hearing it: finish the job.
            user = await self._store.write(lambda tx: _mark_confirmed(tx, user_id))
        return tokens, user

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
        self._connections.close_sessions(session_ids)

    async def _account_key(self, login: str) -> str:
        """One rate-limit key per account whether it is named by username or email
        (the same for existing and unknown logins, so it reveals nothing)."""
        name = login.strip().lower()

        def lookup(tx: Transaction) -> User | None:
            return tx.users.by_username(name) or tx.users.by_email(name)

        holder = await self._store.read(lookup)
        return f"id:{holder.id}" if holder else f"name:{name}"

    async def _free_abandoned(self, user: User) -> bool:
        """Frees the username and email of `user` when they are held only by sign-ups
        that never finished: unconfirmed profiles with no account behind them, created
        before this process started (sign-ups do not survive a restart) or longer ago
        than ABANDONED_AFTER. Returns whether there is now room for `user`."""

        def holders(tx: Transaction) -> list[User]:
            found = [tx.users.by_username(user.username), tx.users.by_email(user.email)]
            return list({u.id: u for u in found if u is not None}.values())

        now = self._clock.now()
        abandoned = []
        for holder in await self._store.read(holders):
            stale = holder.created_at < self._started or now - holder.created_at > ABANDONED_AFTER
            if holder.confirmed or not stale or await self._identity.has_account(holder.id):
                return False
            abandoned.append(holder.id)

        def free(tx: Transaction) -> None:
            for user_id in abandoned:
                held = tx.users.get(user_id)
                if held is not None and not held.confirmed:
                    tx.users.delete(user_id)

        await self._store.write(free)
        return True

    async def _limit(self, key: str, limit: int) -> None:
        retry_after = await self._limiter.hit(key, limit, self._policy.window_seconds)
        if retry_after is not None:
            raise RateLimited("Too many attempts; try again later.", retry_after=retry_after)


def _mark_confirmed(tx: Transaction, user_id: str) -> User:
    user = tx.users.get(user_id)
    if user is None:
        raise NotFound("User not found.")
    if not user.confirmed:
        user = replace(user, confirmed=True)
        tx.users.update(user)
    return user
