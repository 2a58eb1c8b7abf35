"""The outage state every Redis adapter reports to, and the log lines an operator reads.

Commands here are stand-ins that end as a Redis command would (with the client's
ConnectionError, or not at all): what is under test is how the link reads outcomes
that arrive out of order, which a real Redis only produces by chance.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest
from redis import exceptions as redis_errors

from hubbub.adapters.redis_link import UNREACHABLE, RedisLink


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().split(" at ")[0] for r in caplog.records if r.name == "hubbub.redis"]


def refused() -> redis_errors.ConnectionError:
    return redis_errors.ConnectionError("Connection refused")


async def test_a_command_sent_before_redis_came_back_does_not_start_a_new_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="hubbub.redis")
    link = RedisLink("redis://127.0.0.1:1/0")
    try:
        changes: list[bool] = []
        link.on_change(changes.append)
        answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        async def sent_while_redis_went_away() -> None:
            with link.reporting():
                await answer  # its answer comes last

        in_flight = asyncio.create_task(sent_while_redis_went_away())
        await asyncio.sleep(0)

        with pytest.raises(redis_errors.ConnectionError), link.reporting():
            raise refused()
        assert link.up is False
        with link.reporting():
            pass  # Redis answers again
        assert link.up is True

        answer.set_exception(refused())
        with pytest.raises(redis_errors.ConnectionError):
            await in_flight
        assert link.up is True, "a late failure of an old command is not a new outage"
        assert changes == [False, True]
        assert outage_lines(caplog) == ["Redis", "Redis"]
        assert "unreachable" in caplog.records[0].getMessage()
        assert "answers again" in caplog.records[1].getMessage()

        # A command sent after Redis came back that fails is a new outage: said once.
        for _ in range(3):
            with contextlib.suppress(*UNREACHABLE), link.reporting():
                raise refused()
        assert link.up is False
        assert changes == [False, True, False]
        assert [r.getMessage().count("unreachable") for r in caplog.records] == [1, 0, 1]
    finally:
        await link.close()
