"""The web app's files as a browser receives them from `hubbub serve`: compressed when
the browser accepts it, hashed assets cached for a year, pages revalidated (304), and the
security headers and the SPA fallback unchanged. A throwaway build directory stands in for
src/hubbub/static, so the test needs no web build."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import httpx
import pytest

from tests.support import ServerProcess

SCRIPT = b"console.log('hubbub');\n" * 400
PAGE = b"<!doctype html><title>Hubbub</title><div id=root>Loading</div>" + b" " * 2000
BROTLI = b"pretend-brotli"  # the server sends the build's .br file as it is


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("web-assets")
    static = root / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_bytes(PAGE)
    (static / "index.html.gz").write_bytes(gzip.compress(PAGE))
    (static / "assets" / "index-AbC123.js").write_bytes(SCRIPT)
    (static / "assets" / "index-AbC123.js.gz").write_bytes(gzip.compress(SCRIPT))
    (static / "assets" / "index-AbC123.js.br").write_bytes(BROTLI)
    (static / "theme.js").write_bytes(b"void 0\n")
    server = ServerProcess(data_dir=root / "data", env={"HUBBUB_STATIC_DIR": str(static)})
    server.start()
    yield server.base_url
    server.stop()


def _raw(url: str, **headers: str) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (no decoding by the client)."""
    with httpx.Client() as client, client.stream("GET", url, headers=headers) as response:
        return response, b"".join(response.iter_raw())


def test_a_hashed_script_is_sent_compressed_and_cached_for_a_year(site: str) -> None:
    url = f"{site}/assets/index-AbC123.js"
    br, body = _raw(url, **{"accept-encoding": "gzip, deflate, br, zstd"})
    assert br.status_code == 200
    assert br.headers["content-encoding"] == "br" and body == BROTLI
    assert br.headers["content-type"].startswith("text/javascript")
    assert br.headers["vary"].lower() == "accept-encoding"
    assert br.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert br.headers["x-content-type-options"] == "nosniff"  # security headers still there

    gz, body = _raw(url, **{"accept-encoding": "gzip"})
    assert gz.headers["content-encoding"] == "gzip" and gzip.decompress(body) == SCRIPT
    assert int(gz.headers["content-length"]) == len(body) < len(SCRIPT) / 10
    assert gz.headers["etag"] != br.headers["etag"]  # two representations, two validators

    plain, body = _raw(url, **{"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and body == SCRIPT
    refused, body = _raw(url, **{"accept-encoding": "br;q=0, gzip;q=0"})
    assert "content-encoding" not in refused.headers and body == SCRIPT


def test_the_page_and_the_spa_fallback_are_revalidated_and_can_answer_304(site: str) -> None:
    for path in ["/", "/index.html", "/chats/some-conversation"]:
        page, body = _raw(f"{site}{path}", **{"accept-encoding": "gzip"})
        assert page.status_code == 200, path
        assert page.headers["content-encoding"] == "gzip" and gzip.decompress(body) == PAGE
        assert page.headers["cache-control"] == "no-cache", path
        assert "last-modified" in page.headers
        assert "script-src 'self'" in page.headers["content-security-policy"]
        again = httpx.get(
            f"{site}{path}",
            headers={"accept-encoding": "gzip", "if-none-match": page.headers["etag"]},
        )
        assert again.status_code == 304 and again.content == b"", path
        assert again.headers["cache-control"] == "no-cache"


def test_other_files_get_a_short_cache_life_and_the_api_is_unchanged(site: str) -> None:
    theme, _ = _raw(f"{site}/theme.js", **{"accept-encoding": "gzip, br"})
    assert theme.headers["cache-control"] == "public, max-age=3600"
    assert "content-encoding" not in theme.headers  # no compressed copy: sent as it is
    health = httpx.get(f"{site}/healthz", headers={"accept-encoding": "gzip, br"})
    assert "content-encoding" not in health.headers
    missing = httpx.get(f"{site}/api/nothing-here", headers={"accept-encoding": "gzip, br"})
    assert missing.status_code == 404 and "content-encoding" not in missing.headers
