"""Tokens: minted locally, verified, with role and org; ownership scoping; the start-up check
that refuses an insecure configuration (issue #17)."""

import time

import jwt
import pytest

from services.runtime.auth import (
    InsecureAuthConfiguration,
    Principal,
    TokenVerifier,
    check_settings,
    mint_token,
)
from services.runtime.problems import Problem
from services.runtime.settings import DEV_JWT_SECRET, Settings

SECRET = "test-secret-of-sufficient-length-1234"


async def test_minted_token_verifies_to_its_role_and_org() -> None:
    token = mint_token(SECRET, role="institution", org="H0001")
    principal = await TokenVerifier(SECRET).verify(token)
    assert (principal.role, principal.org) == ("institution", "H0001")
    assert principal.scope == "H0001"
    assert not principal.sees_all


async def test_wrong_secret_expired_or_roleless_tokens_are_401() -> None:
    verifier = TokenVerifier(SECRET, leeway_s=0)
    for token in (
        mint_token("another-secret-of-sufficient-length", role="regulator", org="B"),
        mint_token(SECRET, role="regulator", org="B", ttl_s=-10),
        jwt.encode({"sub": "x", "org": "B", "exp": time.time() + 60}, SECRET,
                   algorithm="HS256"),
        jwt.encode({"sub": "x", "role": "king", "org": "B", "exp": time.time() + 60}, SECRET,
                   algorithm="HS256"),
        "not-a-token",
    ):
        with pytest.raises(Problem) as info:
            await verifier.verify(token)
        assert info.value.status == 401


async def test_a_token_without_exp_is_refused() -> None:
    """Issue #17: tokens without ``exp`` are refused everywhere (the shared-secret mode too)."""
    token = jwt.encode({"sub": "x", "role": "regulator", "org": "B"}, SECRET, algorithm="HS256")
    with pytest.raises(Problem) as info:
        await TokenVerifier(SECRET).verify(token)
    assert info.value.status == 401
    assert "exp" in (info.value.detail or "")


async def test_expiry_allows_the_configured_clock_skew_and_no_more() -> None:
    token = mint_token(SECRET, role="regulator", org="B", ttl_s=-10)  # expired 10 s ago
    assert (await TokenVerifier(SECRET, leeway_s=30).verify(token)).org == "B"
    with pytest.raises(Problem):
        await TokenVerifier(SECRET, leeway_s=5).verify(token)
    with pytest.raises(ValueError):
        Settings(jwt_leeway_s=3600)  # the skew is bounded


async def test_issuer_and_audience_are_checked_when_configured() -> None:
    verifier = TokenVerifier(SECRET, audience="vbp", issuer="https://idp.example")
    good = mint_token(SECRET, role="regulator", org="B", issuer="https://idp.example",
                      audience="vbp")
    assert (await verifier.verify(good)).role == "regulator"
    for bad in (
        mint_token(SECRET, role="regulator", org="B", issuer="https://evil.example",
                   audience="vbp"),
        mint_token(SECRET, role="regulator", org="B", issuer="https://idp.example",
                   audience="other"),
        mint_token(SECRET, role="regulator", org="B"),
    ):
        with pytest.raises(Problem) as info:
            await verifier.verify(bad)
        assert info.value.status == 401


def test_unknown_role_cannot_be_minted() -> None:
    with pytest.raises(ValueError):
        mint_token(SECRET, role="king", org="B")


def test_other_orgs_objects_are_not_found() -> None:
    hospital = Principal("u", "institution", "H0001")
    hospital.check_owns("H0001", "order", "O1")
    with pytest.raises(Problem) as info:
        hospital.check_owns("H0002", "order", "O2")
    assert info.value.status == 404
    Principal("u", "regulator", "BUREAU").check_owns("H0002", "order", "O2")


@pytest.mark.parametrize(("environment", "secret", "why"), [
    ("staging", DEV_JWT_SECRET, "development JWT secret"),
    ("staging", "short-secret", "shorter than 32 bytes"),
    ("production", "a-long-enough-secret-0123456789abcdef", "refuses the shared-secret mode"),
    ("production", DEV_JWT_SECRET, "refuses the shared-secret mode"),
])
def test_insecure_configurations_refuse_to_start(environment: str, secret: str,
                                                 why: str) -> None:
    settings = Settings(environment=environment, jwt_secret=secret)
    with pytest.raises(InsecureAuthConfiguration, match=why):
        TokenVerifier.from_settings(settings)


def test_production_with_jwks_needs_issuer_and_audience() -> None:
    with pytest.raises(InsecureAuthConfiguration, match="VBP_JWT_ISSUER"):
        check_settings(Settings(environment="production", jwks_url="https://idp/jwks"))
    check_settings(Settings(environment="production", jwks_url="https://idp/jwks",
                            jwt_issuer="https://idp", jwt_audience="vbp"))


def test_secure_and_development_configurations_start() -> None:
    check_settings(Settings(environment="development"))  # the development secret is fine here
    check_settings(Settings(environment="staging",
                            jwt_secret="a-long-enough-secret-0123456789abcdef"))
