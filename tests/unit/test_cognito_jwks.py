"""The Cognito adapter's JWKS cache, against a local HTTP server serving a JWKS that the
test rotates: keys cached by `kid`, an unknown `kid` refetched at most once per interval,
no network before the first token."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from hubbub.adapters.cognito_identity import CognitoIdentity, JwksKeys
from hubbub.adapters.memory import MemoryStore
from hubbub.adapters.system import SystemClock
from hubbub.domain.errors import Unauthorized
from tests.cognito import JsonHandler, serving
from tests.support import free_port

POOL = "us-east-1_TESTPOOL"
CLIENT = "test-client"
ISSUER = f"https://cognito-idp.us-east-1.amazonaws.com/{POOL}"


class Jwks:
    """A JWKS endpoint whose keys the test changes, counting the fetches."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fetches = 0
        jwks = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                jwks.fetches += 1
                self.send_json(200, {"keys": jwks.public()}, "application/json")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/{POOL}/.well-known/jwks.json"

    def add(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def public(self) -> list[dict[str, Any]]:
        found = []
        for kid, key in self.keys.items():
            entry = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            found.append({**entry, "kid": kid, "alg": "RS256", "use": "sig"})
        return found

    def token(self, kid: str, **claims: Any) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "sub": "a-cognito-sub",
            "client_id": CLIENT,
            "token_use": "access",
            "username": "01user",
            "origin_jti": "sign-in-1",
            "iat": now,
            "exp": now + 3600,
            **claims,
        }
        return jwt.encode(payload, self.keys[kid], "RS256", {"kid": kid})


@pytest.fixture
def jwks() -> Iterator[Jwks]:
    served = Jwks()
    with serving(served.server):
        yield served


def identity(url: str, refetch_seconds: float = 60) -> CognitoIdentity:
    return CognitoIdentity(
        MemoryStore(),
        SystemClock(),
        user_pool_id=POOL,
        client_id=CLIENT,
        jwks_url=url,
        client=object(),  # verification never calls Cognito
        jwks_refetch_seconds=refetch_seconds,
    )


def test_keys_are_fetched_once_and_a_rotated_in_kid_costs_one_refetch(jwks: Jwks) -> None:
    jwks.add("a")
    # (The interval between refetches is the next test's subject.)
    verifier = identity(jwks.url, refetch_seconds=0)
    assert jwks.fetches == 0  # nothing at construction
    session = verifier.verify_access_token(jwks.token("a"))
    assert (session.user_id, session.session_id) == ("01user", "sign-in-1")
    verifier.verify_access_token(jwks.token("a", origin_jti="sign-in-2"))
    assert jwks.fetches == 1

    jwks.add("b")  # the pool rotates its signing key
    assert verifier.verify_access_token(jwks.token("b")).user_id == "01user"
    assert jwks.fetches == 2
    verifier.verify_access_token(jwks.token("a", origin_jti="sign-in-3"))
    verifier.verify_access_token(jwks.token("b", origin_jti="sign-in-4"))
    assert jwks.fetches == 2


def test_unknown_kids_refetch_at_most_once_per_interval(jwks: Jwks) -> None:
    jwks.add("a")
    moment = [1000.0]
    keys = JwksKeys(jwks.url, refetch_seconds=300, monotonic=lambda: moment[0])
    assert keys.key("a") is not None
    for _ in range(5):  # a flood of tokens naming keys nobody has
        assert keys.key("forged") is None
    assert jwks.fetches == 1
    moment[0] += 301
    jwks.add("forged-later")
    assert keys.key("forged-later") is not None
    assert jwks.fetches == 2


def test_an_unreachable_jwks_refuses_tokens_without_raising_anything_else() -> None:
    verifier = identity(f"http://127.0.0.1:{free_port()}/jwks.json")
    with pytest.raises(Unauthorized):
        verifier.verify_access_token(jwt.encode({"sub": "x"}, "k" * 32, "HS256", {"kid": "a"}))


def test_tokens_failing_any_claim_check_are_refused(jwks: Jwks) -> None:
    jwks.add("a")
    verifier = identity(jwks.url)
    now = int(time.time())
    refused: list[dict[str, Any]] = [
        {"token_use": "id"},
        {"client_id": "someone-else"},
        {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OTHER"},
        {"exp": now - 1},
        {"iat": now - 901},  # older than our access-token life, however long Cognito said
        {"origin_jti": None},
        {"username": None},
    ]
    for claims in refused:
        token = jwks.token("a", **{k: v for k, v in claims.items() if v is not None})
        if None in claims.values():
            payload = jwt.decode(token, options={"verify_signature": False})
            for name in claims:
                payload.pop(name)
            token = jwt.encode(payload, jwks.keys["a"], "RS256", {"kid": "a"})
        with pytest.raises(Unauthorized):
            verifier.verify_access_token(token)
    # HS256 under the public key's bytes (algorithm confusion) is refused too.
    with pytest.raises(Unauthorized):
        verifier.verify_access_token(jwt.encode({"sub": "x"}, "k" * 32, "HS256", {"kid": "a"}))
    assert verifier.verify_access_token(jwks.token("a")).user_id == "01user"
