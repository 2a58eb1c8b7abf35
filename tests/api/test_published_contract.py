"""The contract documents in the repository are the ones the server serves."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support import Api

DOCS = Path(__file__).resolve().parents[2] / "docs"


async def test_docs_openapi_json_is_the_served_document(api: Api) -> None:
    """docs/openapi.json is generated (`make openapi`); a schema change without it fails
    here, and through `npm test`'s check:api, the web client's generated types too."""
    served = (await api.http.get("/api/openapi.json")).json()
    committed = json.loads((DOCS / "openapi.json").read_text())
    assert served == committed, "docs/openapi.json is stale: run `make openapi`"
