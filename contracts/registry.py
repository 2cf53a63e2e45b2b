"""The topic registry: every topic, who owns it, and which events travel on it.

Consumers look event classes up here by CloudEvents type; the JSON Schemas and the AsyncAPI
document are generated from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts import catalog, monitoring, orders, payments, supply
from contracts.base import Event


@dataclass(frozen=True)
class Topic:
    """A topic. Each event class states its own key field (``Event.KEY``); a topic may carry
    events of several aggregates (``keys``), each kept in order per its own key."""

    name: str
    owner: str
    description: str
    events: tuple[type[Event], ...] = field(default=())
    partitions: int = 4

    @property
    def keys(self) -> tuple[str, ...]:
        """The key fields of the topic's events, in the order the events are listed."""
        return tuple(dict.fromkeys(e.KEY for e in self.events))


TOPICS: tuple[Topic, ...] = (
    Topic(
        catalog.PROGRAMS_TOPIC,
        "catalog",
        "VBP programs and their policy profiles",
        (catalog.ProgramPublished, catalog.ProgramProfileChanged),
    ),
    Topic(
        catalog.LISTINGS_TOPIC,
        "catalog",
        "Listings (挂网) of products and their prices",
        (
            catalog.ProductListed,
            catalog.ListingPriceChanged,
            catalog.WinningProductCorrected,
            catalog.ListingSuspended,
            catalog.ListingReinstated,
        ),
    ),
    Topic(
        orders.AGREEMENTS_TOPIC,
        "orders",
        "Agreement volumes, renewals and pacing per institution and year",
        (orders.AgreementRecorded, orders.RenewalDecided, orders.PacingWarningRaised,
         orders.HistoricalPurchaseRecorded),
    ),
    Topic(
        orders.ORDERS_TOPIC,
        "orders",
        "Purchase orders and their lifecycle",
        (orders.OrderPlaced, orders.OrderCancelled, orders.OrderAccepted, orders.OrderRejected),
    ),
    Topic(
        supply.ASSIGNMENTS_TOPIC,
        "supply",
        "Distributors, assignments and the violation list",
        (
            supply.DistributorRegistered,
            supply.AssignmentRecorded,
            supply.AssignmentRevoked,
            supply.DistributorBarred,
            supply.DistributorReinstated,
        ),
    ),
    Topic(
        supply.DELIVERIES_TOPIC,
        "supply",
        "Routing, supply risks, shipment and delivery",
        (supply.OrderRouted, supply.SupplyRiskOpened, supply.OrderShipped,
         supply.OrderDelivered),
    ),
    Topic(
        payments.PREPAYMENTS_TOPIC,
        "payments",
        "Prepayment ledger",
        (payments.PrepaymentScheduled, payments.InstallmentDisbursed,
         payments.InstallmentOverdue, payments.PrepaymentOffset,
         payments.NetPayablePublished),
    ),
    Topic(
        payments.SETTLEMENTS_TOPIC,
        "payments",
        "Settlements due, paid, overdue",
        (payments.PayableOpened, payments.PayablePaid, payments.PayablesOverdue,
         payments.PayableOverdue),
    ),
    Topic(
        monitoring.CREDIT_TOPIC,
        "monitoring",
        "Credit records, ratings and measures",
        (monitoring.CreditMeasureApplied, monitoring.CreditMeasureLifted,
         monitoring.CreditRatingChanged, monitoring.BackupProductSwitched,
         monitoring.EmergencySupplyTriggered),
    ),
    Topic(monitoring.REPORTS_TOPIC, "monitoring", "Monthly monitoring reports",
          (monitoring.MonthlyReportClosed,)),
)

TOPIC_BY_NAME: dict[str, Topic] = {t.name: t for t in TOPICS}
EVENT_TYPES: dict[str, type[Event]] = {e.TYPE: e for t in TOPICS for e in t.events}


def event_class(ce_type: str) -> type[Event]:
    """The event class of a CloudEvents type; KeyError when unknown."""
    return EVENT_TYPES[ce_type]


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlt"
