"""Who may do what: bearer JWTs with ``role`` and ``org`` claims.

One dependency, ``authorize(*roles)``, checks the token and the role. Object ownership is
checked through ``Principal.scope``: regulators and operators see everything; every other
caller's queries are scoped to its own org, so another org's object is simply not found (404,
no leak that it exists).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal, get_args

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.runtime.problems import Problem, not_found

Role = Literal["regulator", "operator", "institution", "enterprise", "distributor", "agency"]
"""``agency``: a paying agency (医保经办机构) of the medical-insurance fund; its org is its
region (payments: disbursements, fund payments, direct settlement)."""
ROLES: tuple[str, ...] = get_args(Role)
OVERSEERS = frozenset({"regulator", "operator"})
ALGORITHM = "HS256"


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    org: str

    @property
    def sees_all(self) -> bool:
        return self.role in OVERSEERS

    @property
    def scope(self) -> str | None:
        """The org the caller's reads and writes are limited to; None for overseers."""
        return None if self.sees_all else self.org

    def check_owns(self, owner_org: str, what: str, ident: str) -> None:
        """404 unless the object belongs to the caller's org (or the caller oversees)."""
        if not self.sees_all and owner_org != self.org:
            raise not_found(what, ident)

    @property
    def actor(self) -> str:
        """Who did it, for audit trails: ``role:org/subject``."""
        return f"{self.role}:{self.org}/{self.subject}"


def mint_token(
    secret: str, *, role: str, org: str, subject: str | None = None, ttl_s: int = 12 * 3600
) -> str:
    """A signed token for local use (``vbp token``)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    now = int(time.time())
    claims = {"sub": subject or f"{role}-{org}", "role": role, "org": org, "iat": now,
              "exp": now + ttl_s}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class TokenVerifier:
    """Verifies bearer tokens: a shared secret locally, a JWKS URL in production."""

    def __init__(self, secret: str, jwks_url: str | None = None,
                 audience: str | None = None) -> None:
        self._secret = secret
        self._audience = audience
        self._jwks = jwt.PyJWKClient(jwks_url) if jwks_url else None
        self._cache: dict[str, tuple[Principal, float]] = {}

    def verify(self, token: str) -> Principal:
        """The token's principal; a verified token is remembered until it expires (bounded)."""
        now = time.time()
        cached = self._cache.get(token)
        if cached is not None and cached[1] > now:
            return cached[0]
        principal, expires = self._verify(token)
        if len(self._cache) >= 10_000:
            self._cache.clear()
        self._cache[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
                claims = jwt.decode(token, key, algorithms=["RS256", "ES256"],
                                    audience=self._audience)
            else:
                claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM],
                                    audience=self._audience)
        except jwt.PyJWTError as exc:
            raise Problem(401, "unauthorized", "Invalid bearer token", str(exc)) from exc
        role, org, sub = claims.get("role"), claims.get("org"), claims.get("sub")
        if role not in ROLES or not isinstance(org, str) or not org or not isinstance(sub, str):
            raise Problem(401, "unauthorized", "Invalid bearer token",
                          "token needs a known 'role', an 'org' and a 'sub'")
        expires = claims.get("exp")
        until = float(expires) if isinstance(expires, int | float) else time.time() + 60
        return Principal(subject=sub, role=role, org=org), until


_bearer = HTTPBearer(auto_error=False)


def admit(verifier: TokenVerifier, token: str, allowed: frozenset[str]) -> Principal:
    """The token's principal, who must hold one of the ``allowed`` roles (401 for a bad token,
    403 for another role)."""
    principal = verifier.verify(token)
    if principal.role not in allowed:
        raise Problem(403, "forbidden", "Not allowed for this role",
                      f"role {principal.role!r} may not do this; allowed: "
                      f"{', '.join(sorted(allowed))}")
    return principal


def authorize(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """Dependency: the caller, who must hold one of ``roles`` (401 without a valid token,
    403 with another role)."""
    allowed = frozenset(roles)

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None:
            raise Problem(401, "unauthorized", "Authentication required",
                          "send 'Authorization: Bearer <token>'")
        return admit(request.app.state.runtime.verifier, credentials.credentials, allowed)

    return dependency
