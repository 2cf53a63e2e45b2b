"""Events and API models owned by the catalog service."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.base import Event
from contracts.money import Money

PROGRAMS_TOPIC = "vbp.catalog.programs.v1"
LISTINGS_TOPIC = "vbp.catalog.listings.v1"

Organiser = Literal["national", "alliance", "provincial"]


class ProgramPublished(Event):
    """A regulator published a VBP program (R-PRG-1)."""

    TYPE: ClassVar[str] = "vbp.catalog.program.published.v1"
    TOPIC: ClassVar[str] = PROGRAMS_TOPIC

    program_id: str
    category: str
    region: str
    notice_no: str
    organiser: Organiser
    procurement_doc_no: str | None = None
    execution_start: AwareDatetime
    cycle_years: int = Field(ge=1, le=10)
    published_by: str

    def key(self) -> str:
        return self.program_id


class ProductListed(Event):
    """A winning product was listed (挂网) at its winning price (R-CAT-5)."""

    TYPE: ClassVar[str] = "vbp.catalog.listing.listed.v1"
    TOPIC: ClassVar[str] = LISTINGS_TOPIC

    listing_id: str
    program_id: str
    category: str
    registration_no: str
    product_name: str
    enterprise_id: str
    enterprise_name: str
    registrant: str
    product_price: Money
    service_price: Money
    listing_price: Money
    winning: bool = True
    listed_at: AwareDatetime
    listed_by: str

    def key(self) -> str:
        return self.listing_id


# --- HTTP API models -------------------------------------------------------------------------


class ProgramIn(BaseModel):
    """Body of ``POST /v1/programs``."""

    model_config = ConfigDict(extra="forbid")

    program_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    category: str = Field(min_length=1, max_length=100)
    region: str = Field(min_length=1, max_length=100)
    notice_no: str = Field(min_length=1, max_length=200)
    organiser: Organiser
    procurement_doc_no: str | None = Field(default=None, max_length=100)
    execution_start: AwareDatetime
    cycle_years: int = Field(ge=1, le=10)


class ProgramOut(ProgramIn):
    published_at: datetime


class WinningProductIn(BaseModel):
    """One row of the notice's attachment table, already read (R-CAT-1)."""

    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=1)
    product_name: str = Field(min_length=1, max_length=200)
    registration_no: str = Field(min_length=1, max_length=40)
    declaring_enterprise: str = Field(min_length=1, max_length=200)
    registrant: str = Field(min_length=1, max_length=200)
    product_price: Money
    service_price: Money
    winning_price: Money


class WinningProductsIn(BaseModel):
    """Body of ``POST /v1/programs/{program_id}/winning-products`` (JSON form)."""

    model_config = ConfigDict(extra="forbid")

    rows: list[WinningProductIn] = Field(min_length=1, max_length=50_000)


class ListingOut(BaseModel):
    listing_id: str
    program_id: str
    category: str
    registration_no: str
    product_name: str
    enterprise_id: str
    enterprise_name: str
    registrant: str
    listing_price: Money
    winning: bool
    status: Literal["listed", "suspended"] = "listed"
    listed_at: datetime


class ImportResult(BaseModel):
    program_id: str
    imported: int
    unchanged: int
    listing_ids: list[str]
