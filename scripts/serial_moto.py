"""moto's server answering one request at a time, for DynamoDB's transactions:

    python -m scripts.serial_moto PORT

moto's TransactWriteItems deep-copies the tables it touches, without a lock, so that it
can put them back if a condition fails: two at once fail with a 500 ("dictionary changed
size during iteration"), and each costs the size of its tables times its actions (a
64-member group took seconds). DynamoDB has neither limit. So this server handles one
request at a time (which also keeps moto's transactions atomic with respect to each
other), and a transaction saves only the items its actions touch and puts those back on
failure: the same all-or-nothing outcome. Used by the DynamoDB tests (tests/dynamodb.py)
and by `make aws-local`; nothing of Hubbub's own is changed.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any


class _NoCopy:
    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value


def _patch_transactions() -> None:
    from moto.dynamodb import models as typed_models

    models: Any = typed_models  # moto's module, whose `copy` is swapped for the call

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        saved: dict[tuple[str, str], tuple[str, dict[str, Any], Any]] = {}
        for action in transact_items:
            _, op = next(iter(action.items()))
            name = op.get("TableName")
            if name not in self.tables:
                continue
            table = self.tables[name]
            if "Item" in op:
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            ident = (name, repr(sorted(key.items())))
            if ident not in saved:
                held = self.get_item(name, key)
                saved[ident] = (name, key, None if held is None else held.to_json()["Attributes"])
        copier, models.copy = models.copy, _NoCopy
        try:
            return original(self, transact_items)
        except BaseException:
            for name, key, attributes in saved.values():
                if attributes is None:
                    with contextlib.suppress(Exception):  # it was never written
                        self.delete_item(name, key)
                else:
                    self.put_item(name, attributes)
            raise
        finally:
            models.copy = copier

    models.DynamoDBBackend.transact_write_items = transact_write_items


def main(port: int) -> None:
    from moto.moto_server.threaded_moto_server import (  # type: ignore[attr-defined]
        MotoRequestHandler,
    )
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import run_simple

    _patch_transactions()
    run_simple(
        "127.0.0.1",
        port,
        DomainDispatcherApplication(create_backend_app),
        threaded=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
