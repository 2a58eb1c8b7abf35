"""What an operator's machinery asks the server: is it alive (`/healthz`), is it ready
(`/readyz`), and what is it doing (`/metrics`). On AWS the probes are served too (by
the conversations function), the metrics not: CloudWatch has them.

`/readyz` is for load balancers and orchestrators: 200 when everything a request
needs answers (the store; Redis when configured), 503 otherwise, each check at most
`CHECK_SECONDS`. It names which check failed and nothing else, so anyone may call it.

`/metrics` tells load and traffic figures, so it is not public: with
HUBBUB_METRICS_TOKEN set it needs `Authorization: Bearer <token>`, from anywhere;
without, it answers only a loopback client that came directly (no forwarding
header), so a reverse proxy on the same host does not hand it to the internet.
It stays out of the OpenAPI document: it is Prometheus's format, not the API's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Iterator
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import Response

from hubbub.adapters import prometheus
from hubbub.bootstrap import Platform
from hubbub.server.errors import error_response
from hubbub.server.responses import json_response
from hubbub.server.schemas import Health, Readiness

log = logging.getLogger("hubbub.ready")

CHECK_SECONDS = 2.0
_FORWARDING = (b"x-forwarded-for", b"forwarded", b"x-real-ip")


def router(platform: Platform) -> APIRouter:
    """The probes and `/metrics`."""
    routes = probes(platform)

    @routes.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        refused = _refusal(request, platform.settings.metrics_token)
        if refused is not None:
            return refused
        body = await asyncio.to_thread(prometheus.render)  # reads files in multi-process mode
        return Response(body, media_type=prometheus.CONTENT_TYPE)

    return routes


def probes(platform: Platform) -> APIRouter:
    """`/healthz` and `/readyz`."""
    routes = APIRouter()

    @routes.get("/healthz", response_model=Health, tags=["operations"])
    async def health() -> Response:
        await platform.store.read(lambda tx: tx.users.get(""))  # the store answers
        # Nothing about load or connections: anyone may call it. Liveness only: /readyz
        # says whether the process's dependencies answer.
        return json_response({"status": "ok"})

    @routes.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "A dependency does not answer."}},
        tags=["operations"],
    )
    async def ready() -> Response:
        """Whether this process can serve requests: its store answers, and its Redis
        when it has one. 503 names the check that failed."""
        checks = {"store": _check("store", _store_answers(platform))}
        if platform.redis is not None:
            checks["redis"] = _check("redis", platform.redis.ping())
        names = list(checks)
        results = await asyncio.gather(*checks.values())
        report = dict(zip(names, results, strict=True))
        ready = all(result == "ok" for result in results)
        body = {"status": "ready" if ready else "unready", "checks": report}
        return json_response(body, status=200 if ready else 503)

    return routes


@contextlib.contextmanager
def shared_metrics() -> Iterator[Path]:
    """For `hubbub serve --workers N`, around the workers' whole life: the directory
    their metrics share (see `prometheus.multiprocess_dir`)."""
    with prometheus.multiprocess_dir() as path:
        yield path


async def _store_answers(platform: Platform) -> bool:
    await platform.store.read(lambda tx: tx.users.get(""))
    return True


async def _check(name: str, answers: Awaitable[bool]) -> str:
    try:
        ok = await asyncio.wait_for(answers, CHECK_SECONDS)
    except TimeoutError:
        log.warning("readiness: %s did not answer within %.0f s", name, CHECK_SECONDS)
        return "down"
    except Exception as error:
        log.warning("readiness: %s failed (%s)", name, error.__class__.__name__)
        return "down"
    return "ok" if ok else "down"


def _refusal(request: Request, token: str) -> Response | None:
    if token:
        given = request.headers.get("authorization", "")
        scheme, _, credential = given.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            credential.strip().encode(), token.encode()
        ):
            return None
        return error_response(401, "unauthorized", "/metrics needs the metrics token.")
    forwarded = any(name in _FORWARDING for name, _ in request.scope["headers"])
    if not forwarded and request.client is not None and _loopback(request.client.host):
        return None
    return error_response(
        403,
        "forbidden",
        "/metrics answers loopback clients only, unless HUBBUB_METRICS_TOKEN is set.",
    )


def _loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
