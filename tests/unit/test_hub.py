"""Fan-out: one slow client never stalls the others."""

from __future__ import annotations

from hubbub.adapters.local_hub import Connection, LocalHub
from hubbub.domain.events import Delivery, Origin


async def test_a_client_that_cannot_keep_up_is_dropped_alone() -> None:
    hub = LocalHub()
    slow = Connection("slow", "bob", max_pending=10)
    fast = Connection("fast", "ana", max_pending=10)
    hub.attach(slow)
    hub.attach(fast)
    for n in range(25):
        hub.publish([Delivery(frozenset({"ana", "bob"}), {"type": "t", "n": n})])
        if n % 5 == 4:
            assert len(await fast.next_batch()) == 5
    assert slow.overflowed and not fast.overflowed
    assert await slow.next_batch() == []


async def test_the_origin_connection_gets_an_ack_in_the_events_place() -> None:
    hub = LocalHub()
    phone, laptop = Connection("p", "ana", 10), Connection("l", "ana", 10)
    hub.attach(phone)
    hub.attach(laptop)
    frame = {"type": "message.created", "message": {"id": "m1"}, "cursor": "5"}
    hub.publish([Delivery(frozenset({"ana"}), frame, origin=Origin("p", "req-1"))])
    (ack,) = await phone.next_batch()
    (event,) = await laptop.next_batch()
    assert '"type":"ack"' in ack and '"requestId":"req-1"' in ack and '"cursor":"5"' in ack
    assert '"type":"message.created"' in event
    hub.detach(phone)
    assert hub.connections_of("ana") == [laptop]
