"""Tokens: minted locally, verified, with role and org; ownership scoping."""

import jwt
import pytest

from services.runtime.auth import Principal, TokenVerifier, mint_token
from services.runtime.problems import Problem

SECRET = "test-secret-of-sufficient-length-1234"


def test_minted_token_verifies_to_its_role_and_org() -> None:
    token = mint_token(SECRET, role="institution", org="H0001")
    principal = TokenVerifier(SECRET).verify(token)
    assert (principal.role, principal.org) == ("institution", "H0001")
    assert principal.scope == "H0001"
    assert not principal.sees_all


def test_wrong_secret_expired_or_roleless_tokens_are_401() -> None:
    verifier = TokenVerifier(SECRET)
    for token in (
        mint_token("another-secret-of-sufficient-length", role="regulator", org="B"),
        mint_token(SECRET, role="regulator", org="B", ttl_s=-10),
        jwt.encode({"sub": "x", "org": "B"}, SECRET, algorithm="HS256"),
        jwt.encode({"sub": "x", "role": "king", "org": "B"}, SECRET, algorithm="HS256"),
        "not-a-token",
    ):
        with pytest.raises(Problem) as info:
            verifier.verify(token)
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
