"""Events and API models owned by the catalog service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.base import Event
from contracts.money import Amount, Money, Price
from contracts.profiles import PolicyProfile

PROGRAMS_TOPIC = "vbp.catalog.programs.v1"
LISTINGS_TOPIC = "vbp.catalog.listings.v1"

Organiser = Literal["national", "alliance", "provincial"]
Coverage = Literal["full", "capped"]
ListingStatus = Literal["listed", "suspended"]
PriceSource = Literal["platform", "self_reported", "filing"]


class FieldChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    old: str
    new: str


class ProgramPublished(Event):
    """A regulator published a VBP program (R-PRG-1)."""

    TYPE: ClassVar[str] = "vbp.catalog.program.published.v1"
    TOPIC: ClassVar[str] = PROGRAMS_TOPIC
    KEY: ClassVar[str] = "program_id"

    program_id: str
    category: str
    region: str
    notice_no: str
    organiser: Organiser
    procurement_doc_no: str | None = None
    execution_start: AwareDatetime
    cycle_years: int = Field(ge=1, le=10)
    profile: PolicyProfile | None = None
    published_by: str


class ProgramProfileChanged(Event):
    """A new version of a program's policy profile (never an edit in place)."""

    TYPE: ClassVar[str] = "vbp.catalog.program.profile-changed.v1"
    TOPIC: ClassVar[str] = PROGRAMS_TOPIC
    KEY: ClassVar[str] = "program_id"

    program_id: str
    version: int
    profile: PolicyProfile
    reason: str
    changed_by: str
    changed_at: AwareDatetime


class ProductListed(Event):
    """A winning product was listed (挂网) at its winning price (R-CAT-5)."""

    TYPE: ClassVar[str] = "vbp.catalog.listing.listed.v1"
    TOPIC: ClassVar[str] = LISTINGS_TOPIC
    KEY: ClassVar[str] = "listing_id"

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
    payment_standard: Money | None = None
    coverage: Coverage | None = None
    national_lowest: Money | None = None
    version: int = 1


class ListingPriceChanged(Event):
    """A listing's price changed: a non-winning product lowered to a new national lowest price
    (R-CAT-6, 同步调整), or a corrected winning price. Who, when and why are in the event."""

    TYPE: ClassVar[str] = "vbp.catalog.listing.price-changed.v1"
    TOPIC: ClassVar[str] = LISTINGS_TOPIC
    KEY: ClassVar[str] = "listing_id"

    listing_id: str
    program_id: str
    registration_no: str
    old_price: Money
    new_price: Money
    national_lowest: Money | None = None
    payment_standard: Money | None = None
    reason: str
    changed_by: str
    changed_at: AwareDatetime
    version: int


class WinningProductCorrected(Event):
    """A corrected notice table changed a listed winning product (never silently, R-CAT-1):
    the fields that changed, old and new, as a new version of the listing."""

    TYPE: ClassVar[str] = "vbp.catalog.listing.corrected.v1"
    TOPIC: ClassVar[str] = LISTINGS_TOPIC
    KEY: ClassVar[str] = "listing_id"

    listing_id: str
    program_id: str
    registration_no: str
    changes: dict[str, FieldChange]
    listing_price: Money
    product_name: str
    enterprise_id: str
    enterprise_name: str
    registrant: str
    reason: str
    corrected_by: str
    corrected_at: AwareDatetime
    version: int


class ListingSuspended(Event):
    """Institutions cannot order a suspended listing (R-CAT-8)."""

    TYPE: ClassVar[str] = "vbp.catalog.listing.suspended.v1"
    TOPIC: ClassVar[str] = LISTINGS_TOPIC
    KEY: ClassVar[str] = "listing_id"

    listing_id: str
    program_id: str
    enterprise_id: str
    reason: str
    measure_id: str | None = None
    suspended_by: str
    suspended_at: AwareDatetime
    version: int


class ListingReinstated(Event):
    """A suspension was lifted (credit repair or measure expiry, R-CRD-4)."""

    TYPE: ClassVar[str] = "vbp.catalog.listing.reinstated.v1"
    TOPIC: ClassVar[str] = LISTINGS_TOPIC
    KEY: ClassVar[str] = "listing_id"

    listing_id: str
    program_id: str
    enterprise_id: str
    reason: str
    measure_id: str | None = None
    reinstated_by: str
    reinstated_at: AwareDatetime
    version: int


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
    preset: str | None = Field(
        default=None, description="name of a shipped policy profile preset, if no 'profile'"
    )
    profile: PolicyProfile | None = None


class ProgramOut(BaseModel):
    program_id: str
    category: str
    region: str
    notice_no: str
    organiser: Organiser
    procurement_doc_no: str | None
    execution_start: datetime
    cycle_years: int
    profile: PolicyProfile
    profile_version: int
    published_by: str
    published_at: datetime


class ProfileChangeIn(BaseModel):
    """Body of ``POST /v1/programs/{program_id}/profile``: a new profile version."""

    model_config = ConfigDict(extra="forbid")

    profile: PolicyProfile
    reason: str = Field(min_length=1, max_length=1000)


class NonWinningListingIn(BaseModel):
    """Body of ``POST /v1/listings``: an enterprise lists a non-winning product (R-CAT-6)."""

    model_config = ConfigDict(extra="forbid")

    program_id: str = Field(min_length=1, max_length=64)
    registration_no: str = Field(pattern=r"^国械注[准进许]\d{11}$")
    product_name: str = Field(min_length=1, max_length=200)
    enterprise_name: str = Field(min_length=1, max_length=200)
    registrant: str = Field(min_length=1, max_length=200)
    price: Price = Field(description="requested listing price; capped at the national lowest")


class PriceObservationIn(BaseModel):
    """Body of ``POST /v1/price-observations`` (operators feed these in, R-CAT-6)."""

    model_config = ConfigDict(extra="forbid")

    registration_no: str = Field(pattern=r"^国械注[准进许]\d{11}$")
    platform: str = Field(min_length=1, max_length=200, pattern=r"\S",
                          description="where the price was seen (not blank)")
    price: Price = Field(description="R-CAT-6: a price, more than 0.00")
    observed_on: date
    source_type: PriceSource


class PriceObservationOut(PriceObservationIn):
    model_config = ConfigDict(extra="ignore")

    recorded_by: str
    recorded_at: datetime


class PriceObservationsPage(BaseModel):
    """A product's price observations, by the day observed: a page, since they accumulate
    for as long as the product is sold."""

    items: list[PriceObservationOut]
    next_cursor: str | None = None


class NonWinningListed(BaseModel):
    listing_id: str
    listing_price: Money
    national_lowest: Money | None


class ObservationRecorded(BaseModel):
    registration_no: str
    national_lowest: Money | None
    lowered_listings: list[str]


class HistoryEntry(BaseModel):
    version: int
    change: str
    detail: dict[str, Any] | list[Any] | str
    actor: str
    reason: str
    at: datetime


class WinningProductIn(BaseModel):
    """One row of the notice's attachment table, already read (R-CAT-1)."""

    model_config = ConfigDict(extra="forbid")

    seq: int = Field(ge=1, le=999_999_999)
    product_name: str = Field(min_length=1, max_length=200)
    registration_no: str = Field(min_length=1, max_length=40)
    declaring_enterprise: str = Field(min_length=1, max_length=200)
    registrant: str = Field(min_length=1, max_length=200)
    product_price: Price
    service_price: Amount
    winning_price: Price


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
    product_price: Money | None = Field(
        default=None, description="产品价格; with service_price it makes the winning price "
        "(R-CAT-3); null where a view does not keep the split")
    service_price: Money | None = Field(default=None, description="伴随服务价格")
    listing_price: Money
    payment_standard: Money | None = None
    coverage: Coverage | None = None
    national_lowest: Money | None = None
    winning: bool
    status: ListingStatus = "listed"
    suspended_reason: str | None = None
    version: int = 1
    listed_at: datetime


class ListingsPage(BaseModel):
    items: list[ListingOut]
    next_cursor: str | None = None


class SkippedLine(BaseModel):
    """A line of the notice's text inside the table that is not a row of it (R-CAT-1)."""

    line: int = Field(description="1-based line number in the text sent")
    text: str
    reason: str


class ImportResult(BaseModel):
    program_id: str
    imported: int
    corrected: int = 0
    unchanged: int
    listing_ids: list[str]
    skipped: int = Field(default=0, description="lines inside the table that are not rows")
    skipped_lines: list[SkippedLine] = Field(
        default_factory=list,
        description="those lines (page numbers, the header repeated, the notice's closing "
        "lines), with their line numbers; the first 1000")
