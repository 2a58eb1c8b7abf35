"""Fixtures every suite may use: the throwaway PostgreSQL server (tests/postgres.py)."""

from tests.postgres import postgres

__all__ = ["postgres"]
