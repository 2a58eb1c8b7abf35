"""Schema versions and migrations, the part every SQL backend shares.

A store's schema is a numbered sequence of migrations, 1, 2, 3, ...; its version is
the number of the last one applied. Each backend keeps its own list (its own SQL
dialect) and the same bookkeeping: a `schema_migrations` table with one row per
applied migration (version, name, when), written in the same transaction as the
migration itself, so a migration that fails leaves the database at the version before
it. A database at a version this code does not know, or whose applied migrations carry
other names than ours (built by another branch), is refused rather than guessed at.

Standard library only: adapters import it, and so may entry points (for the errors).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One step: statements run in order inside one transaction with the version bump.
    Once released, a migration never changes: a new change is a new migration."""

    version: int
    name: str
    statements: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a database stands: `current` is 0 when it has no schema yet."""

    current: int
    latest: int

    @property
    def pending(self) -> bool:
        return self.current < self.latest


class SchemaError(Exception):
    """The database cannot be used by this code as it is; the message says why and
    what to do. Entry points report it and exit with status 2, like a bad setting."""


class SchemaTooNew(SchemaError):
    """The database was migrated by a newer Hubbub (or by another build)."""


class MigrationFailed(SchemaError):
    """A migration raised; the database stays at the version before it."""


def latest(migrations: Sequence[Migration]) -> int:
    """The version a database has after every migration: checks the list is 1..n."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(migrations) + 1)):
        raise ValueError(f"migrations must be numbered 1..n in order, got {versions}")
    if len({m.name for m in migrations}) != len(migrations):
        raise ValueError("migration names must be unique")
    return len(migrations)


def pending(
    applied: Mapping[int, str], migrations: Sequence[Migration], where: str
) -> list[Migration]:
    """The migrations still to run on a database that has `applied` ({version: name}),
    in order. Raises `SchemaTooNew` for a version or a name this code does not know."""
    known = latest(migrations)
    current = max(applied, default=0)
    if current > known:
        raise SchemaTooNew(
            f"{where} is at schema version {current}, but this Hubbub knows versions up to"
            f" {known}: run the newer Hubbub that wrote it (a database is never downgraded)"
        )
    for version, name in sorted(applied.items()):
        ours = migrations[version - 1].name
        if name != ours:
            raise SchemaTooNew(
                f"{where} has migration {version} {name!r} where this Hubbub has {ours!r}:"
                " it was written by another build"
            )
    return list(migrations[current:])
