"""Fan-out: one slow client never stalls the others."""

from __future__ import annotations

import asyncio

from hubbub.adapters.local_hub import Connection, LocalHub
from hubbub.domain.events import Delivery, Origin


class RecordingSink:
    """A transport whose sends can be held up, like a peer that stopped reading."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed_with: int | None = None
        self.open = asyncio.Event()
        self.open.set()

    async def send(self, text: str) -> None:
        await self.open.wait()
        self.sent.append(text)

    async def close(self, code: int, reason: str) -> None:
        self.closed_with = code


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_client_that_cannot_keep_up_is_dropped_alone() -> None:
    hub = LocalHub()
    slow_sink, fast_sink = RecordingSink(), RecordingSink()
    slow_sink.open.clear()
    hub.attach(Connection("slow", "bob", max_pending=10, sink=slow_sink))
    hub.attach(fast := Connection("fast", "ana", max_pending=10, sink=fast_sink))
    for n in range(25):
        hub.publish([Delivery(frozenset({"ana", "bob"}), {"type": "t", "n": n})])
        await settle()
    assert len(fast_sink.sent) == 25 and not fast.overflowed
    slow_sink.open.set()
    await settle()
    assert slow_sink.closed_with == 4008
    assert len(slow_sink.sent) < 25


async def test_an_idle_connection_holds_no_task() -> None:
    sink = RecordingSink()
    before = asyncio.all_tasks()
    connection = Connection("c", "ana", max_pending=10, sink=sink)
    connection.offer("one")
    connection.offer("two")
    await settle()
    assert sink.sent == ["one", "two"]
    assert asyncio.all_tasks() == before  # the sender task ended with the queue empty
    connection.close()
    connection.offer("after close")
    await settle()
    assert sink.sent == ["one", "two"]


async def test_the_origin_connection_gets_an_ack_in_the_events_place() -> None:
    hub = LocalHub()
    phone_sink, laptop_sink = RecordingSink(), RecordingSink()
    phone = Connection("p", "ana", 10, phone_sink)
    laptop = Connection("l", "ana", 10, laptop_sink)
    hub.attach(phone)
    hub.attach(laptop)
    frame = {"type": "message.created", "message": {"id": "m1"}, "cursor": "5"}
    hub.publish([Delivery(frozenset({"ana"}), frame, origin=Origin("p", "req-1"))])
    await settle()
    (ack,) = phone_sink.sent
    (event,) = laptop_sink.sent
    assert '"type":"ack"' in ack and '"requestId":"req-1"' in ack and '"cursor":"5"' in ack
    assert '"type":"message.created"' in event
    hub.detach(phone)
    assert hub.connections_of("ana") == [laptop]


def event(seq: int, conversation: str = "c") -> dict[str, object]:
    return {"type": "message.created", "conversationId": conversation, "eventSeq": seq}


def seqs(sink: RecordingSink) -> list[tuple[str, int]]:
    import json

    frames = [json.loads(text) for text in sink.sent]
    return [(f["conversationId"], f["eventSeq"]) for f in frames if "eventSeq" in f]


async def test_an_event_that_overtakes_an_earlier_one_waits_for_it() -> None:
    """Another process's event (through Redis) can arrive after this process's own
    later one: the connection still sees the conversation's positions in order."""
    hub, sink = LocalHub(), RecordingSink()
    connection = Connection("c1", "bob", max_pending=100, sink=sink)
    connection.start_at({"c": 1, "d": 7})
    hub.attach(connection)
    hub.deliver([Delivery(frozenset({"bob"}), event(3))])  # e2 is still on its way
    hub.deliver([Delivery(frozenset({"bob"}), event(8, "d"))])  # another conversation
    await settle()
    assert seqs(sink) == [("d", 8)]
    hub.deliver_text("bob", '{"conversationId":"c","eventSeq":2}', "c", 2)
    await settle()
    assert seqs(sink) == [("d", 8), ("c", 2), ("c", 3)]


async def test_a_held_event_goes_out_when_the_one_before_never_comes() -> None:
    hub, sink = LocalHub(), RecordingSink()
    connection = Connection("c1", "bob", max_pending=100, sink=sink)
    connection.start_at({"c": 1})
    hub.attach(connection)
    hub.deliver([Delivery(frozenset({"bob"}), event(3))])
    hub.deliver([Delivery(frozenset({"bob"}), event(5))])
    await settle()
    assert seqs(sink) == []
    # e2 died with its process: after the hold the client gets what there is, in order,
    # and fetches the gap itself; later events flow at once again.
    await asyncio.sleep(0.4)
    assert seqs(sink) == [("c", 3), ("c", 5)]
    hub.deliver([Delivery(frozenset({"bob"}), event(6))])
    await settle()
    assert seqs(sink)[-1] == ("c", 6)


async def test_events_of_a_conversation_new_to_the_connection_are_not_held() -> None:
    hub, sink = LocalHub(), RecordingSink()
    hub.attach(Connection("c1", "bob", max_pending=100, sink=sink))
    hub.deliver([Delivery(frozenset({"bob"}), event(4, "new"))])
    hub.deliver([Delivery(frozenset({"bob"}), event(2, "new"))])  # older: not held either
    await settle()
    assert seqs(sink) == [("new", 4), ("new", 2)]


async def test_events_published_while_the_hello_is_read_follow_the_hello() -> None:
    """A connection joins the hub before its hello's cursor is read, so an event
    committed meanwhile is neither lost nor sent ahead of the hello."""
    hub, sink = LocalHub(), RecordingSink()
    connection = Connection("c1", "bob", max_pending=100, sink=sink)
    connection.waiting_for_hello = True
    hub.attach(connection)
    hub.deliver([Delivery(frozenset({"bob"}), event(5))])
    await settle()
    assert sink.sent == []
    connection.hello('{"type":"hello"}', {"c": 4})
    await settle()
    assert sink.sent[0] == '{"type":"hello"}'
    assert seqs(sink) == [("c", 5)]


class DirectSink(RecordingSink):
    """A transport that writes on the spot while its peer reads (`writable`)."""

    def __init__(self) -> None:
        super().__init__()
        self.writable = True
        self.written_now: list[str] = []

    def send_now(self, text: str) -> bool:
        if not self.writable:
            return False
        self.written_now.append(text)
        self.sent.append(text)
        return True


async def test_a_fan_out_to_readers_writes_at_once_with_no_task() -> None:
    hub = LocalHub()
    sinks = [DirectSink() for _ in range(100)]
    for n, sink in enumerate(sinks):
        hub.attach(Connection(f"c{n}", f"u{n}", max_pending=10, sink=sink))
    before = asyncio.all_tasks()
    hub.publish([Delivery(frozenset(f"u{n}" for n in range(100)), {"type": "t"})])
    # Written before publish returned, and no task was started to do it.
    assert all(sink.written_now == ['{"type":"t"}'] for sink in sinks)
    assert asyncio.all_tasks() == before


async def test_a_backed_up_direct_sink_queues_and_keeps_the_order() -> None:
    sink = DirectSink()
    sink.open.clear()  # `send` waits too, like a peer that stopped reading
    connection = Connection("c", "ana", max_pending=10, sink=sink)
    connection.offer("one")
    sink.writable = False
    connection.offer("two")
    sink.writable = True
    # "two" is queued: "three" must not overtake it, though the sink could take it now.
    connection.offer("three")
    await settle()
    assert sink.sent == ["one"]
    sink.open.set()
    await settle()
    assert sink.sent == ["one", "two", "three"]
    assert sink.written_now == ["one"]
    connection.offer("four")  # the queue has drained: straight through again
    assert sink.written_now == ["one", "four"]


async def test_a_connection_waiting_for_its_hello_writes_nothing_before_it() -> None:
    sink = DirectSink()
    connection = Connection("c", "ana", max_pending=10, sink=sink)
    connection.waiting_for_hello = True
    connection.offer("event")
    assert sink.sent == []
    connection.hello("hello", {})
    await settle()
    assert sink.sent == ["hello", "event"]
