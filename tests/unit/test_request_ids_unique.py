"""New request ids are unique: within a process, and in a forked child."""

from __future__ import annotations

import os

from hubbub.server.request_ids import incoming_or_new


def test_new_ids_do_not_repeat_and_keep_their_shape() -> None:
    scope = {"headers": []}
    ids = {incoming_or_new(scope) for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    scope = {"headers": []}
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, then out
        os.write(write_end, incoming_or_new(scope).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read_end, 64).decode()
    mine = incoming_or_new(scope)
    assert len(child) == 32 and child[:16] != mine[:16]
