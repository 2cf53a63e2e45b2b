"""Who may do what: bearer JWTs with ``role`` and ``org`` claims.

One dependency, ``authorize(*roles)``, checks the token and the role. Object ownership is
checked through ``Principal.scope``: regulators and operators see everything; every other
caller's queries are scoped to its own org, so another org's object is simply not found (404,
no leak that it exists).

Two ways to verify a token (``TokenVerifier.from_settings``):
- **JWKS** (``VBP_JWKS_URL``, RS256 or ES256): the identity provider's public keys, fetched
  with httpx, cached, refetched when a token names an unknown ``kid`` (at most once per
  ``VBP_JWKS_MIN_REFRESH_S``, so a flood of made-up kids cannot turn into a flood of fetches)
  and after ``VBP_JWKS_TTL_S``. Required when ``VBP_ENVIRONMENT=production``.
- **Shared secret** (``VBP_JWT_SECRET``, HS256): local use and tests. Outside
  ``development`` the service refuses to start with the development secret written in
  ``settings.py`` or with a secret shorter than 32 bytes (``check_settings``).
Everywhere: a token without ``exp`` is refused; ``exp``/``nbf``/``iat`` are checked with
``VBP_JWT_LEEWAY_S`` of clock skew; issuer (``VBP_JWT_ISSUER``) and audience
(``VBP_JWT_AUDIENCE``) when configured.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

import httpx
import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.runtime.problems import Problem, not_found
from services.runtime.settings import DEV_JWT_SECRET, Settings
from services.runtime.texts import text

Role = Literal["regulator", "operator", "institution", "enterprise", "distributor", "agency"]
"""``agency``: a paying agency (医保经办机构) of the medical-insurance fund; its org is its
region (payments: disbursements, fund payments, direct settlement)."""
ROLES: tuple[str, ...] = get_args(Role)
OVERSEERS = frozenset({"regulator", "operator"})
ALGORITHM = "HS256"
JWKS_ALGORITHMS = ("RS256", "ES256")
MIN_SECRET_BYTES = 32
log = logging.getLogger("vbp.auth")


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

    def filters(self, columns: Mapping[str, str]) -> dict[str, str]:
        """The equality filters that limit a query to what the caller may see: ``columns``
        names, per role, the column that holds the owning organisation (e.g.
        ``{"institution": "institution_id", "enterprise": "enterprise_id"}``). Overseers get
        none; a role without a column gets none either, so only pass the roles a route admits
        (``authorize`` has refused the rest)."""
        if self.sees_all or self.role not in columns:
            return {}
        return {columns[self.role]: self.org}

    def check_owns(self, owner_org: str, what: str, ident: str) -> None:
        """404 unless the object belongs to the caller's org (or the caller oversees)."""
        if not self.sees_all and owner_org != self.org:
            raise not_found(what, ident)

    @property
    def actor(self) -> str:
        """Who did it, for audit trails: ``role:org/subject``."""
        return f"{self.role}:{self.org}/{self.subject}"


caller_var: ContextVar[list[Principal] | None] = ContextVar("vbp_caller", default=None)
"""Set by the audit middleware to a list per request; ``admit`` puts the admitted caller in it
(a list, so that a caller admitted in a child context is still seen by the middleware)."""


def mint_token(
    secret: str, *, role: str, org: str, subject: str | None = None, ttl_s: int = 12 * 3600,
    issuer: str | None = None, audience: str | None = None,
) -> str:
    """A signed token for local use (``vbp token``); it always expires (``exp``)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": subject or f"{role}-{org}", "role": role, "org": org,
                              "iat": now, "exp": now + ttl_s}
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class InsecureAuthConfiguration(RuntimeError):
    """The service must not start with this authentication configuration."""


def check_settings(settings: Settings) -> None:
    """Refuse (``InsecureAuthConfiguration``, saying why) a configuration that would let anyone
    who reads this repository mint tokens: the development secret or a short one outside
    ``development``, and the shared-secret mode at all in ``production``."""
    env = settings.environment
    if settings.jwks_url:
        if env == "production" and not (settings.jwt_issuer and settings.jwt_audience):
            raise InsecureAuthConfiguration(
                "VBP_ENVIRONMENT=production needs VBP_JWT_ISSUER and VBP_JWT_AUDIENCE with "
                "VBP_JWKS_URL: tokens of another issuer or for another audience must not pass")
        return
    if env == "development":
        return
    if env == "production":
        raise InsecureAuthConfiguration(
            "VBP_ENVIRONMENT=production refuses the shared-secret mode: set VBP_JWKS_URL "
            "(with VBP_JWT_ISSUER and VBP_JWT_AUDIENCE) to verify tokens against the identity "
            "provider's keys")
    if settings.jwt_secret == DEV_JWT_SECRET:
        raise InsecureAuthConfiguration(
            f"VBP_ENVIRONMENT={env} refuses the development JWT secret (it is written in the "
            "repository, anyone can mint tokens with it): set VBP_JWT_SECRET to a secret of "
            f"at least {MIN_SECRET_BYTES} bytes, or VBP_JWKS_URL")
    if len(settings.jwt_secret.encode()) < MIN_SECRET_BYTES:
        raise InsecureAuthConfiguration(
            f"VBP_ENVIRONMENT={env}: VBP_JWT_SECRET is shorter than {MIN_SECRET_BYTES} bytes "
            "(HS256 needs at least 256 bits of key to resist guessing)")


class JwksCache:
    """The signing keys of a JWKS URL, by ``kid``: fetched on first use, after ``ttl_s``, and
    when a token names a kid not in the set (rotation) — but not more than once per
    ``min_refresh_s``. One fetch at a time; a failed fetch keeps the keys it had."""

    def __init__(self, url: str, *, ttl_s: float = 300.0, min_refresh_s: float = 10.0,
                 timeout_s: float = 5.0) -> None:
        self.url = url
        self._ttl = ttl_s
        self._min_refresh = min_refresh_s
        self._timeout = timeout_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def key(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        found = self._keys.get(kid)
        stale = now - self._fetched_at > self._ttl
        if found is not None and not stale:
            return found
        if stale or now - self._fetched_at >= self._min_refresh:
            async with self._lock:
                # another request may have fetched while this one waited
                if time.monotonic() - self._fetched_at >= min(self._min_refresh, self._ttl):
                    await self._fetch()
            return self._keys.get(kid)
        return found

    async def _fetch(self) -> None:
        self.fetches += 1
        self._fetched_at = time.monotonic()  # also on failure: no retry storm
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(self.url)
                response.raise_for_status()
                data = response.json()
            keys: dict[str, jwt.PyJWK] = {}
            for jwk in data.get("keys", []):
                if jwk.get("use", "sig") != "sig" or "kid" not in jwk:
                    continue
                try:
                    keys[jwk["kid"]] = jwt.PyJWK.from_dict(jwk)
                except jwt.PyJWTError:
                    log.warning("JWKS key %s skipped: unsupported", jwk.get("kid"))
            self._keys = keys
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            log.warning("JWKS fetch from %s failed: %s", self.url, exc.__class__.__name__)


def _unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", "Invalid bearer token", detail)


class TokenVerifier:
    """Verifies bearer tokens: a shared secret locally, a JWKS URL in production."""

    def __init__(self, secret: str, jwks_url: str | None = None,
                 audience: str | None = None, *, issuer: str | None = None,
                 leeway_s: float = 30.0, jwks_ttl_s: float = 300.0,
                 jwks_min_refresh_s: float = 10.0) -> None:
        self._secret = secret
        self._audience = audience or None
        self._issuer = issuer or None
        self._leeway = leeway_s
        self._jwks = (JwksCache(jwks_url, ttl_s=jwks_ttl_s, min_refresh_s=jwks_min_refresh_s)
                      if jwks_url else None)
        self._cache: dict[str, tuple[Principal, float]] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenVerifier:
        """The verifier the settings describe; refuses an insecure configuration
        (``check_settings``) so that the service does not start with it."""
        check_settings(settings)
        return cls(settings.jwt_secret, settings.jwks_url or None, settings.jwt_audience,
                   issuer=settings.jwt_issuer, leeway_s=settings.jwt_leeway_s,
                   jwks_ttl_s=settings.jwks_ttl_s,
                   jwks_min_refresh_s=settings.jwks_min_refresh_s)

    @property
    def jwks(self) -> JwksCache | None:
        return self._jwks

    async def verify(self, token: str) -> Principal:
        """The token's principal; a verified token is remembered until it expires (bounded)."""
        now = time.time()
        cached = self._cache.get(token)
        if cached is not None and cached[1] > now:
            return cached[0]
        principal, expires = await self._verify(token)
        if len(self._cache) >= 10_000:
            self._cache.clear()
        self._cache[token] = (principal, expires)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        options: jwt.types.Options = {"require": ["exp", "sub"]}
        try:
            if self._jwks is not None:
                header = jwt.get_unverified_header(token)
                kid = header.get("kid")
                if header.get("alg") not in JWKS_ALGORITHMS or not isinstance(kid, str):
                    raise _unauthorized(
                        text("token must be signed with {algorithms} and name its key ('kid')",
                             algorithms=" or ".join(JWKS_ALGORITHMS)))
                jwk = await self._jwks.key(kid)
                if jwk is None:
                    raise _unauthorized(text("unknown signing key {kid!r}", kid=kid))
                claims = jwt.decode(token, jwk, algorithms=list(JWKS_ALGORITHMS),
                                    audience=self._audience, issuer=self._issuer,
                                    leeway=self._leeway, options=options)
            else:
                claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM],
                                    audience=self._audience, issuer=self._issuer,
                                    leeway=self._leeway, options=options)
        except jwt.PyJWTError as exc:
            raise _unauthorized(str(exc)) from exc
        role, org, sub = claims.get("role"), claims.get("org"), claims.get("sub")
        if role not in ROLES or not isinstance(org, str) or not org or not isinstance(sub, str):
            raise _unauthorized(text("token needs a known 'role', an 'org' and a 'sub'"))
        return Principal(subject=sub, role=role, org=org), float(claims["exp"]) + self._leeway


_bearer = HTTPBearer(auto_error=False)


async def admit(verifier: TokenVerifier, token: str, allowed: frozenset[str]) -> Principal:
    """The token's principal, who must hold one of the ``allowed`` roles (401 for a bad token,
    403 for another role)."""
    principal = await verifier.verify(token)
    callers = caller_var.get()
    if callers is not None:
        callers.append(principal)
    if principal.role not in allowed:
        raise Problem(403, "forbidden", "Not allowed for this role",
                      text("role {role!r} may not do this; allowed: {allowed}",
                           role=principal.role, allowed=", ".join(sorted(allowed))))
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
                          text("send 'Authorization: Bearer <token>'"))
        return await admit(request.app.state.runtime.verifier, credentials.credentials,
                           allowed)

    return dependency


Regulator = Annotated[Principal, Depends(authorize("regulator"))]
"""A caller who must be a regulator (the role aliases every service's routes use)."""
Overseer = Annotated[Principal, Depends(authorize("regulator", "operator"))]
"""A regulator or an operator: sees everything."""
AnyRole = Annotated[Principal, Depends(authorize(*ROLES))]
"""Any authenticated caller; the route scopes what it answers with ``Principal.filters``."""
