"""Identities every service derives the same way: a winning product's listing, an enterprise,
a registration certificate (plain functions, no framework).

Catalog mints them when it imports a winning table; orders, supply, payments and monitoring,
and the tests, compute the same ids from the same names without importing catalog.
"""

from __future__ import annotations

import hashlib
import unicodedata


def short_hash(*parts: str) -> str:
    """16 hex digits of the sha256 of the parts (joined by the unit separator)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def normalise_certificate(value: str) -> str:
    """``国械注准 20163132305`` -> ``国械注准20163132305`` (all whitespace removed, NFKC)."""
    return "".join(unicodedata.normalize("NFKC", value).split())


def enterprise_key(name: str) -> str:
    """Matching key for an enterprise name: NFKC fold, no whitespace, casefolded.

    ``美敦力（上海）管理 有限公司`` and ``美敦力(上海)管理有限公司`` give the same key. The key is
    only for matching; the published name is what is displayed.
    """
    return "".join(unicodedata.normalize("NFKC", name).split()).casefold()


def listing_id(program_id: str, registration_no: str) -> str:
    """A winning product's listing id: stable, so importing the same table again is a no-op
    (R-CAT-4: one certificate wins once per program)."""
    return f"L-{short_hash(program_id, registration_no)}"


def enterprise_id(enterprise_name: str) -> str:
    """An enterprise's id from its normalised name (brackets' width and spaces folded)."""
    return f"E-{short_hash(enterprise_key(enterprise_name))}"


def named(enterprise_id: str, name: str | None) -> str:
    """An enterprise as messages show it: its name beside its opaque id, when the name is
    known (``美敦力（上海）管理有限公司 (E-8106b3d38e7b00d8)``)."""
    return f"{name} ({enterprise_id})" if name else enterprise_id
