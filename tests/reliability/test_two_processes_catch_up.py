"""The catch-up model (test_catch_up.py) against two `hubbub serve` processes sharing one
PostgreSQL database: each user acts through a process of their own, and one process or
the other is stopped (kill -9 or cleanly) and started again.

Live delivery across processes is the scale-out issue's, so these clients are sync-only:
a client learns everything, whichever process wrote it, through `/api/sync?since=` from
its last applied cursor. At every check each client's model, built from those events
alone, must equal a fresh fetch of the REST API (from the process the client does not
use): nothing missed, nothing applied twice.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import hypothesis
from hypothesis import HealthCheck
from hypothesis.stateful import run_state_machine_as_test

from tests.postgres import PostgresServer
from tests.reliability.helpers import sharing_postgres
from tests.reliability.test_catch_up import CatchUp, Client
from tests.support import Account, Api, ServerProcess

MAX_EXAMPLES = 6
STEPS = 30


class TwoProcessCatchUp(CatchUp):
    servers: list[ServerProcess]

    def __init__(self) -> None:
        CatchUp.server = self.servers[0]  # sign-ups go through the first process
        super().__init__()
        self.first_api = self.api
        self.apis = [Api(server.base_url) for server in self.servers]

    def _home(self, client: Client) -> int:
        """The process this client talks to: users alternate between the two."""
        return self.clients.index(client) % 2

    def _act(self, client: Client, method: str, path: str, body: Any = None) -> Any:
        kwargs = {} if body is None else {"json": body}
        api = self.apis[self._home(client)]
        reply = self._run(api.call(method, path, client.account, **kwargs))
        assert reply.status_code < 500, reply.text
        return reply

    async def _catch_up(self, client: Client) -> None:
        api = self.apis[self._home(client)]
        events, client.resume = await api.sync_all(client.account, client.resume)
        for event in events:
            await self._apply(client, event)

    async def _fresh(self, account: Account) -> tuple[dict[str, Any], dict[str, Any]]:
        # The fresh fetch asks the process this user does not act through.
        client = next(c for c in self.clients if c.account is account)
        self.api = self.apis[1 - self._home(client)]
        return await super()._fresh(account)

    async def _history(self, account: Account, room: str) -> list[dict[str, Any]] | None:
        return await self.api.history_all(account, room)

    def _connect(self, pick: int, who: int = 0, aim: bool = True, flag: bool = False) -> None:
        """Sync-only clients: "connecting" is catching up through the client's process."""
        self._run(self._catch_up(self.clients[pick % len(self.clients)]))

    def _disconnect(self, pick: int, who: int, aim: bool, flag: bool) -> None:
        return None

    def _restart(self, pick: int, who: int, aim: bool, kill: bool) -> None:
        """One of the two processes goes away and comes back; the other serves on."""
        which = pick % 2
        self._run(self.apis[which].close())
        self.servers[which].stop(signal.SIGKILL if kill else signal.SIGTERM)
        self.servers[which].start()
        self.apis[which] = Api(self.servers[which].base_url)
        self.api = self.apis[which]

    def teardown(self) -> None:
        try:
            self.check_every_model_equals_a_fresh_fetch()
        finally:
            for api in {id(a): a for a in [*self.apis, self.api, self.first_api]}.values():
                self._run(api.close())
            self.loop.close()


def test_sync_on_either_process_equals_a_fresh_fetch(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    with sharing_postgres(postgres, tmp_path) as servers:
        TwoProcessCatchUp.servers = servers
        run_state_machine_as_test(
            TwoProcessCatchUp,
            settings=hypothesis.settings(
                max_examples=MAX_EXAMPLES,
                stateful_step_count=STEPS,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            ),
        )
