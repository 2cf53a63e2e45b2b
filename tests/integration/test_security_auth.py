"""Production authentication (issue #17): tokens verified against a JWKS the test serves on
127.0.0.1 with keys it generates and rotates (RS256 and ES256); a service refusing to start
with an insecure configuration."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from services.runtime.auth import TokenVerifier
from services.runtime.problems import Problem
from services.runtime.settings import DEV_JWT_SECRET

ISSUER, AUDIENCE = "https://idp.test", "vbp"


class Jwks:
    """An identity provider's key set served over HTTP; ``keys`` can be replaced (rotation)."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.requests = 0

    def document(self) -> bytes:
        out = []
        for kid, key in self.keys.items():
            public = key.public_key()
            algo = RSAAlgorithm if isinstance(public, rsa.RSAPublicKey) else ECAlgorithm
            jwk = json.loads(algo.to_jwk(public))
            jwk.update(kid=kid, use="sig")
            out.append(jwk)
        return json.dumps({"keys": out}).encode()

    def token(self, kid: str, *, alg: str | None = None, **claims: Any) -> str:
        key = self.keys[kid]
        alg = alg or ("RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256")
        now = int(time.time())
        body = {"sub": "u1", "role": "institution", "org": "H1", "iss": ISSUER,
                "aud": AUDIENCE, "iat": now, "exp": now + 600, **claims}
        return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=alg,
                          headers={"kid": kid})


@pytest.fixture
def idp() -> Iterator[tuple[Jwks, str]]:
    jwks = Jwks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            jwks.requests += 1
            body = jwks.document()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield jwks, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


async def refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(Problem) as info:
        await verifier.verify(token)
    assert info.value.status == 401
    return info.value.detail or ""


async def test_rs256_and_es256_tokens_verify_against_the_jwks(idp: tuple[Jwks, str]) -> None:
    jwks, url = idp
    jwks.keys = {"rsa-1": rsa_key(), "ec-1": ec_key()}
    verifier = TokenVerifier("unused", url, AUDIENCE, issuer=ISSUER)
    assert (await verifier.verify(jwks.token("rsa-1", role="regulator", org="B"))).role == \
        "regulator"
    assert (await verifier.verify(jwks.token("ec-1"))).org == "H1"
    assert jwks.requests == 1  # keys cached


async def test_issuer_audience_expiry_and_algorithm_are_checked(idp: tuple[Jwks, str]) -> None:
    jwks, url = idp
    jwks.keys = {"rsa-1": rsa_key()}
    verifier = TokenVerifier("unused", url, AUDIENCE, issuer=ISSUER, leeway_s=30)
    assert "issuer" in (await refused(verifier, jwks.token("rsa-1", iss="https://evil"))).lower()
    assert "audience" in (await refused(verifier, jwks.token("rsa-1", aud="other"))).lower()
    assert "exp" in await refused(verifier, jwks.token("rsa-1", exp=None))
    now = int(time.time())
    await refused(verifier, jwks.token("rsa-1", exp=now - 31))  # beyond the skew
    assert (await verifier.verify(jwks.token("rsa-1", exp=now - 20, sub="u2"))).subject == "u2"
    # an HS256 token "signed" with the public key (algorithm confusion) or with the shared
    # secret never passes in JWKS mode
    hs = jwt.encode({"sub": "x", "role": "regulator", "org": "B", "exp": now + 60,
                     "iss": ISSUER, "aud": AUDIENCE}, DEV_JWT_SECRET, algorithm="HS256",
                    headers={"kid": "rsa-1"})
    await refused(verifier, hs)


async def test_rotated_keys_are_fetched_on_an_unknown_kid_at_a_bounded_rate(
        idp: tuple[Jwks, str]) -> None:
    jwks, url = idp
    jwks.keys = {"old": rsa_key()}
    verifier = TokenVerifier("unused", url, AUDIENCE, issuer=ISSUER, jwks_min_refresh_s=2.0)
    await verifier.verify(jwks.token("old"))
    assert jwks.requests == 1
    # the provider rotates: a new EC key appears, the old one is withdrawn
    jwks.keys = {"new": ec_key()}
    await asyncio.sleep(2.0)
    assert (await verifier.verify(jwks.token("new", sub="after-rotation"))).subject == \
        "after-rotation"
    assert jwks.requests == 2
    # made-up kids: at most one fetch per min_refresh_s however many tokens name them
    stranger = ec_key()
    forgeries = [jwt.encode({"sub": "x", "role": "regulator", "org": "B", "iss": ISSUER,
                             "aud": AUDIENCE, "exp": int(time.time()) + 60}, stranger,
                            algorithm="ES256", headers={"kid": f"made-up-{i}"})
                 for i in range(20)]
    for forged in forgeries:
        assert "unknown signing key" in await refused(verifier, forged)
    assert jwks.requests == 2
    # a token of the withdrawn key is refused once the set was refetched
    assert "unknown signing key" in await refused(
        verifier, jwt.encode({"sub": "x", "role": "regulator", "org": "B", "iss": ISSUER,
                              "aud": AUDIENCE, "exp": int(time.time()) + 60},
                             stranger, algorithm="ES256", headers={"kid": "old"}))


@pytest.mark.parametrize(("env", "why"), [
    ({"VBP_ENVIRONMENT": "staging"}, "refuses the development JWT secret"),
    ({"VBP_ENVIRONMENT": "staging", "VBP_JWT_SECRET": "too-short"}, "shorter than 32 bytes"),
    ({"VBP_ENVIRONMENT": "production",
      "VBP_JWT_SECRET": "a-long-enough-secret-0123456789abcdef"},
     "refuses the shared-secret mode"),
])
def test_a_service_refuses_to_start_and_says_why(env: dict[str, str], why: str,
                                                 tmp_path: Any) -> None:
    """``vbp serve`` exits non-zero at start-up, before it touches a database or Kafka."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("VBP_") and k != "KAFKA_BOOTSTRAP_SERVERS"}
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", "payments", "--port", "1"],
        env={**base, "VBP_DATA_DIR": str(tmp_path), **env}, capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert why in result.stderr, result.stderr[-2000:]
