"""Two processes behind nginx, configured as `make scale-out` configures them
(scripts/nginx.py, tests/proxy.py): what a client would notice of the proxy.

Clients come from different loopback addresses (127.0.0.2, 127.0.0.3, ...: all of
127.0.0.0/8 is this machine), so nginx sees different clients, while the servers trust
only 127.0.0.1, nginx's own address. The whole API suite also runs through this set-up
with HUBBUB_TEST_STORE=postgres HUBBUB_TEST_TOPOLOGY=proxy.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.proxy import ProxiedDeployment, proxied
from tests.support import Api, Socket, open_socket


@pytest.fixture(scope="module")
def behind_nginx(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProxiedDeployment]:
    # Tight per-IP limits; each test uses addresses of its own, so they never share one.
    with proxied(
        request,
        Path(tmp_path_factory.mktemp("behind-nginx")),
        HUBBUB_SIGN_IN_PER_IP="3",
    ) as deployment:
        yield deployment


_addresses = (f"127.0.0.{n}" for n in itertools.count(10))


@pytest.fixture
async def api(behind_nginx: ProxiedDeployment) -> AsyncIterator[Api]:
    """A client of an address of its own: its sign-ins count against no other test's."""
    client = await _from(behind_nginx, next(_addresses))
    yield client
    await client.close()


async def _from(deployment: ProxiedDeployment, address: str) -> Api:
    """A client whose connections to nginx come from `address`."""
    client = Api(deployment.base_url)
    await client.http.aclose()
    client.http = httpx.AsyncClient(
        base_url=deployment.base_url,
        timeout=20,
        transport=httpx.AsyncHTTPTransport(local_address=address),
    )
    return client


async def _sign_in(api: Api, n: int, **headers: str) -> int:
    reply = await api.call(
        "POST",
        "/auth/signin",
        json={"username": f"nobody{n}", "password": "wrong password"},
        headers=headers,
    )
    return reply.status_code


async def test_each_client_has_its_own_per_ip_limit_over_both_processes(
    behind_nginx: ProxiedDeployment,
) -> None:
    """The servers count the address nginx forwards, not nginx's own (else every client
    would share one limit), over both processes (nginx spreads the attempts)."""
    first = await _from(behind_nginx, "127.0.0.2")
    second = await _from(behind_nginx, "127.0.0.3")
    # A client on nginx's own address, which the servers trust: were nginx to append to
    # what the client wrote in X-Forwarded-For rather than replace it, the servers would
    # skip this trusted hop and believe the made-up address, a new one each time.
    forger = await _from(behind_nginx, "127.0.0.1")
    try:
        assert [await _sign_in(first, n) for n in range(4)] == [401, 401, 401, 429]
        assert [await _sign_in(second, n) for n in range(4)] == [401, 401, 401, 429]
        forged = [
            await _sign_in(forger, n, **{"X-Forwarded-For": f"198.51.100.{n}"}) for n in range(4)
        ]
        assert forged == [401, 401, 401, 429]
    finally:
        for client in (first, second, forger):
            await client.close()


async def test_a_client_cannot_claim_https_through_nginx(behind_nginx: ProxiedDeployment) -> None:
    """nginx says which scheme its client used; the servers believe it (they trust
    nginx), so a client's own X-Forwarded-Proto must not get through: HSTS over plain
    HTTP would lock browsers out of a site that has no TLS."""
    client = await _from(behind_nginx, "127.0.0.4")
    try:
        claim = {"X-Forwarded-Proto": "https"}
        reply = await client.http.get("/healthz", headers=claim)
        assert reply.status_code == 200
        assert "strict-transport-security" not in reply.headers
        # What nginx keeps out: the same claim from the trusted address is believed.
        async with httpx.AsyncClient(base_url=behind_nginx.servers[0].base_url) as direct:
            believed = await direct.get("/healthz", headers=claim)
        assert "strict-transport-security" in believed.headers
    finally:
        await client.close()


async def test_metrics_are_not_handed_out_through_nginx(behind_nginx: ProxiedDeployment) -> None:
    """/metrics answers loopback clients that came directly; through nginx (even from
    this machine) a client gets a refusal, not the figures."""
    async with httpx.AsyncClient(base_url=behind_nginx.base_url) as through:
        refused = await through.get("/metrics")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    async with httpx.AsyncClient(base_url=behind_nginx.servers[0].base_url) as direct:
        assert (await direct.get("/metrics")).status_code == 200


async def test_bodies_the_servers_accept_pass_nginx(api: Api) -> None:
    """nginx's body limit is the servers' (64 KiB): a body just under it reaches a server
    (which reads it and refuses the sign-in), one over it is refused by nginx in the
    API's error shape, with a request id."""
    padding = "x" * (60 * 1024)
    under = await api.call(
        "POST",
        "/auth/signin",
        json={"username": "nobody", "password": "wrong password", "pad": padding},
    )
    assert under.status_code in (401, 422), under.text
    over = await api.call(
        "POST", "/auth/signin", content=b"x" * (70 * 1024), headers={"content-type": "text/plain"}
    )
    assert over.status_code == 413
    assert over.json()["error"]["code"] == "payload_too_large"
    # nginx's own answers carry a request id too, as the servers' do.
    assert len(over.headers["x-request-id"]) == 32


async def test_websockets_through_nginx_carry_messages_between_processes(
    behind_nginx: ProxiedDeployment, api: Api
) -> None:
    """nginx upgrades /ws and spreads sockets over the processes (least_conn); a
    message sent on one process reaches a socket on the other. When a process stops,
    only its own sockets close; their users reconnect through nginx, to the process that
    is left, and catch up on what they missed."""
    ana, bob = await api.sign_up(), await api.sign_up()
    conversation = await api.direct(ana, bob)
    async with open_socket(api, ana) as ana_socket, open_socket(api, bob) as bob_socket:
        sent = await ana_socket.request(
            "sendMessage", conversationId=conversation, clientMessageId="p-1", body="hi bob"
        )
        assert sent["type"] == "ack"
        live = await bob_socket.wait_for(type="message.created")
        assert live["message"]["body"] == "hi bob"

        behind_nginx.servers[0].stop()  # SIGTERM: a graceful restart of one process
        try:
            await _until_one_closed(ana_socket, bob_socket)
            survivor, stopped = (
                (ana_socket, bob_socket) if bob_socket.closed else (bob_socket, ana_socket)
            )
            # Not both: the two sockets were on different processes.
            assert not survivor.closed
            assert stopped.closed_code == 1012  # "service restart": come back
            hello = stopped.of_type("hello")[0]
            who = ana if stopped is ana_socket else bob
            other = bob if who is ana else ana
            missed = await api.send(other, conversation, "while you were away", "p-2")

            async with open_socket(api, who) as again:  # through nginx, to the survivor
                events, _ = await api.sync_all(who, hello["cursor"])
                bodies = [e["message"]["body"] for e in events if e["type"] == "message.created"]
                assert bodies[-1] == missed["body"]
                reply = await again.request(
                    "sendMessage", conversationId=conversation, clientMessageId="p-3", body="back"
                )
                assert reply["type"] == "ack"
                await survivor.until(
                    lambda: any(
                        f["type"] == "message.created" and f["message"]["body"] == "back"
                        for f in survivor.frames
                    )
                )
        finally:
            behind_nginx.servers[0].start()


async def test_a_stopped_process_costs_clients_nothing(
    behind_nginx: ProxiedDeployment, api: Api
) -> None:
    """nginx passes a request the stopped process refuses to the other one, writes
    included, so a rolling restart goes unnoticed by REST clients."""
    account = await api.sign_up()
    behind_nginx.servers[1].stop()
    try:
        for i in range(6):
            assert (await api.http.get("/healthz")).status_code == 200
            reply = await api.call("PATCH", "/users/me", account, json={"displayName": f"N {i}"})
            assert reply.status_code == 200, reply.text
    finally:
        behind_nginx.servers[1].start()
    # Back, and used again at once: stopping the other now loses nothing either.
    behind_nginx.servers[0].stop()
    try:
        for _ in range(4):
            assert (await api.http.get("/healthz")).status_code == 200
    finally:
        behind_nginx.servers[0].start()


async def _until_one_closed(*sockets: Socket) -> None:
    waits = [asyncio.ensure_future(s.until(lambda s=s: s.closed, within=15)) for s in sockets]
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.sleep(0.3)  # time for a second close, if both were on that process
    for wait in pending:
        wait.cancel()
    await asyncio.gather(*waits, return_exceptions=True)
    for wait in done:
        wait.result()
