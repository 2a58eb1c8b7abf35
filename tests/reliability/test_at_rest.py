"""Data at rest: what a local reader of the data directory, or a copy of the database,
would get. The directory is private, the signing key is owner-only, and the database
holds no password or refresh token in the clear."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

from tests.reliability.helpers import own_server
from tests.support import Api, ServerProcess, free_port


async def test_the_database_holds_no_secret_in_the_clear(tmp_path: Path) -> None:
    with own_server(tmp_path / "data") as server:
        api = Api(server.base_url)
        account = await api.sign_up()
        friend = await api.sign_up()
        await api.direct(account, friend)
        await api.close()
    database = sqlite3.connect(tmp_path / "data" / "hubbub.db")
    dump = "\n".join(database.iterdump())
    database.close()
    assert account.password not in dump
    assert account.refresh_token not in dump
    assert account.access_token not in dump
    assert "$argon2id$" in dump  # passwords are argon2id hashes


def test_a_new_data_directory_is_private_and_the_key_owner_only(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    # No HUBBUB_TOKEN_SECRET: the server generates its key into the data directory.
    process = ServerProcess(data_dir=data, port=free_port())
    process.start()
    try:
        assert stat.S_IMODE(data.stat().st_mode) & 0o077 == 0, oct(data.stat().st_mode)
        key = data / "token-secret.key"
        assert stat.S_IMODE(key.stat().st_mode) & 0o077 == 0, oct(key.stat().st_mode)
        assert len(key.read_text().strip()) >= 64
    finally:
        process.stop()
