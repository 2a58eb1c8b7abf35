"""The DynamoDB tables: one spec per table, read by `hubbub migrate` (`create_tables`)
and by the CloudFormation stack (`cloudformation_resources`, printed as JSON by
`python -m hubbub.adapters.dynamodb_tables`).

Every table of the store is keyed `pk`/`sk` (strings) and written by
`hubbub.adapters.dynamodb`, which documents what each holds. Global secondary indexes
are sparse where a row only sometimes belongs in them. `websocket-connections` is the
API Gateway connection registry's (its keys are fixed by the shared design).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError


@dataclass(frozen=True, slots=True)
class Index:
    name: str
    hash_key: str
    range_key: str


@dataclass(frozen=True, slots=True)
class TableSpec:
    logical: str
    hash_key: str = "pk"
    range_key: str | None = "sk"
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None

    @property
    def resource_id(self) -> str:
        """The CloudFormation logical id: `conversation-members` -> `ConversationMembersTable`."""
        return "".join(part.title() for part in self.logical.split("-")) + "Table"

    def attributes(self) -> list[str]:
        names = [self.hash_key] + ([self.range_key] if self.range_key else [])
        for index in self.indexes:
            names += [index.hash_key, index.range_key]
        return list(dict.fromkeys(names))


TABLES: tuple[TableSpec, ...] = (
    TableSpec("users", indexes=(Index("byName", "npk", "nsk"),)),
    TableSpec("user-words"),
    TableSpec("unique-keys"),
    TableSpec("conversations"),
    TableSpec("conversation-members", indexes=(Index("byUser", "uid", "cid"),)),
    TableSpec("messages"),
    TableSpec("conversation-events", indexes=(Index("removals", "rpk", "sk"),)),
    TableSpec("reactions"),
    TableSpec("attachments", indexes=(Index("unsent", "upk", "usk"),)),
    TableSpec("blocks", indexes=(Index("byBlocked", "bpk", "bsk"),)),
    TableSpec("sync-departures"),
    TableSpec("sync-snapshots"),
    TableSpec("credentials"),
    TableSpec("refresh-tokens", indexes=(Index("byUser", "tuid", "tsk"),)),
    TableSpec("ended-sessions", ttl_attribute="expiresAt"),
    TableSpec(
        "websocket-connections",
        hash_key="connectionId",
        range_key=None,
        # byUser: a user's connections, for the fan-out; bySession: a sign-in's, which a
        # sign-out closes (`apigw_connections.SessionSockets`).
        indexes=(
            Index("byUser", "userId", "connectionId"),
            Index("bySession", "sessionId", "connectionId"),
        ),
        ttl_attribute="expiresAt",
    ),
)


def _schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    if range_key:
        schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
    return schema


def _definition(spec: TableSpec, name: str) -> dict[str, Any]:
    """CreateTable's arguments (CloudFormation's properties use the same names)."""
    definition: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": a, "AttributeType": "S"} for a in spec.attributes()
        ],
        "KeySchema": _schema(spec.hash_key, spec.range_key),
    }
    if spec.indexes:
        definition["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": _schema(index.hash_key, index.range_key),
                "Projection": {"ProjectionType": "ALL"},
            }
            for index in spec.indexes
        ]
    return definition


def create_tables(client: Any, prefix: str, *, only: Collection[str] = ()) -> list[str]:
    """Creates the tables missing under `prefix` (existing ones are left as they are),
    or of them those whose logical names `only` lists, and waits until they are active;
    returns the names it created."""
    created: list[str] = []
    for spec in TABLES:
        if only and spec.logical not in only:
            continue
        name = prefix + spec.logical
        try:
            client.create_table(**_definition(spec, name))
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceInUseException":
                raise
            continue
        created.append(name)
    for spec in TABLES:
        name = prefix + spec.logical
        if name in created:
            client.get_waiter("table_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
            if spec.ttl_attribute:
                client.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
                )
    return created


def cloudformation_resources() -> dict[str, Any]:
    """One `AWS::DynamoDB::Table` per spec, named `hubbub-${sls:stage}-<logical>`."""
    resources: dict[str, Any] = {}
    for spec in TABLES:
        properties = _definition(spec, f"hubbub-${{sls:stage}}-{spec.logical}")
        properties["PointInTimeRecoverySpecification"] = {"PointInTimeRecoveryEnabled": True}
        properties["SSESpecification"] = {"SSEEnabled": True}
        if spec.ttl_attribute:
            properties["TimeToLiveSpecification"] = {
                "AttributeName": spec.ttl_attribute,
                "Enabled": True,
            }
        resources[spec.resource_id] = {"Type": "AWS::DynamoDB::Table", "Properties": properties}
    return resources


if __name__ == "__main__":
    json.dump({"Resources": cloudformation_resources()}, sys.stdout, indent=2)
    sys.stdout.write("\n")
