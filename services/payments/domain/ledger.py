"""The double-entry ledger (R-PAY-6), after TigerBeetle's data model.

An account holds only the cumulative effect of the transfers posted to it (debits posted and
credits posted, integer fen). A transfer is immutable: it debits one account and credits
another by a positive amount, and carries a unique id derived from what caused it (an event
id, an Idempotency-Key, a schedule line), so posting the same cause twice posts nothing the
second time. A mistake is undone by a correcting transfer, never by an edit.

An account may carry a limit: ``debits_must_not_exceed_credits`` (a liability or an
obligation: never paid beyond what is owed) or ``credits_must_not_exceed_debits`` (an asset
such as a prepayment receivable: never offset below zero). A transfer that would break a
limit is refused, and nothing is posted.

Accounts (ids are ``kind:...``):
- ``prepay:{program}:{year}:{institution}``: prepayment receivable of the fund from an
  institution (debit = disbursed, credit = offset); never negative (R-PAY-6).
- ``sched:{program}:{year}:{institution}``: what the agency still has to disburse
  (credit = scheduled, debit = disbursed); never disbursed beyond the schedule.
- ``agency:{agency}``: the paying agency's commitments (debit = scheduled, credit = disbursed).
- ``fund:{agency}``: the fund's money in the region (credit = paid out).
- ``fundpay:{institution}``: a month's fund payments owed to an institution (credit = submitted,
  debit = offset or paid); never paid beyond what was submitted.
- ``claims:{agency}``: the fund's expense for institutions' claims (debit = submitted).
- ``payable:{payer}:{enterprise}``: what a payer (institution, or the fund) owes an enterprise
  (credit = accepted goods, debit = paid); never paid beyond what is owed.
- ``purchases:{payer}``: goods accepted, the payer's expense (debit).
- ``cash:{institution}``: the institution's money (credit = paid out).
- ``direct:{institution}``: what the fund paid enterprises for an institution's goods, to be
  deducted from its fund payments (R-PAY-5; debit = opened, credit = deducted); never
  deducted below zero.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

DEBITS_MUST_NOT_EXCEED_CREDITS = "debits_must_not_exceed_credits"
CREDITS_MUST_NOT_EXCEED_DEBITS = "credits_must_not_exceed_debits"

LIMITS: dict[str, str | None] = {
    "prepay": CREDITS_MUST_NOT_EXCEED_DEBITS,
    "sched": DEBITS_MUST_NOT_EXCEED_CREDITS,
    "agency": None,
    "fund": None,
    "fundpay": DEBITS_MUST_NOT_EXCEED_CREDITS,
    "claims": None,
    "payable": DEBITS_MUST_NOT_EXCEED_CREDITS,
    "purchases": None,
    "cash": None,
    "direct": CREDITS_MUST_NOT_EXCEED_DEBITS,
}


def limit_of(account_id: str) -> str | None:
    """The limit an account carries, from its kind."""
    kind = account_id.split(":", 1)[0]
    if kind not in LIMITS:
        raise ValueError(f"unknown account kind {kind!r} in {account_id!r}")
    return LIMITS[kind]


def transfer_id(*cause: str) -> str:
    """A transfer id derived from what caused it: the same cause, the same id."""
    return hashlib.sha256("\x1f".join(cause).encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Transfer:
    id: str
    debit: str
    credit: str
    amount: int  # fen, > 0
    code: str  # what kind of movement: scheduled, disbursed, offset, ...

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount <= 0:
            raise ValueError(f"a transfer moves a positive number of fen, got {self.amount!r}")
        if self.debit == self.credit:
            raise ValueError("a transfer debits one account and credits another")


@dataclass
class Account:
    id: str
    debits: int = 0
    credits: int = 0

    @property
    def limit(self) -> str | None:
        return limit_of(self.id)

    @property
    def balance(self) -> int:
        """Debits − credits (for an asset); a liability's balance is its negation."""
        return self.debits - self.credits


class LedgerRefused(Exception):
    """A transfer that would break an account's limit; nothing was posted."""

    def __init__(self, transfer: Transfer, account: str, limit: str, debits: int,
                 credits: int) -> None:
        self.transfer = transfer
        self.account = account
        self.limit = limit
        self.debits = debits
        self.credits = credits
        super().__init__(
            f"transfer of {transfer.amount} fen ({transfer.code}) refused: account {account} "
            f"has debits {debits} and credits {credits} fen; {limit.replace('_', ' ')}")


def refusal(transfer: Transfer, debit: Account, credit: Account) -> LedgerRefused | None:
    """Why the transfer may not be posted to these accounts, or None."""
    if (debit.limit == DEBITS_MUST_NOT_EXCEED_CREDITS
            and debit.debits + transfer.amount > debit.credits):
        return LedgerRefused(transfer, debit.id, DEBITS_MUST_NOT_EXCEED_CREDITS,
                             debit.debits, debit.credits)
    if (credit.limit == CREDITS_MUST_NOT_EXCEED_DEBITS
            and credit.credits + transfer.amount > credit.debits):
        return LedgerRefused(transfer, credit.id, CREDITS_MUST_NOT_EXCEED_DEBITS,
                             credit.debits, credit.credits)
    return None


@dataclass
class Ledger:
    """The ledger in memory: the reference model of the PostgreSQL ledger (store.py), and
    what the property test drives."""

    accounts: dict[str, Account] = field(default_factory=dict)
    transfers: dict[str, Transfer] = field(default_factory=dict)

    def account(self, account_id: str) -> Account:
        if account_id not in self.accounts:
            limit_of(account_id)
            self.accounts[account_id] = Account(account_id)
        return self.accounts[account_id]

    def post(self, transfer: Transfer) -> bool:
        """Post a transfer; False if its id was posted before (nothing happens). Raises
        ``LedgerRefused`` (nothing posted) if it would break a limit."""
        if transfer.id in self.transfers:
            return False
        debit, credit = self.account(transfer.debit), self.account(transfer.credit)
        refused = refusal(transfer, debit, credit)
        if refused is not None:
            raise refused
        debit.debits += transfer.amount
        credit.credits += transfer.amount
        self.transfers[transfer.id] = transfer
        return True

    def post_all(self, transfers: list[Transfer]) -> int:
        """Post linked transfers: all or none (a refusal undoes the ones already posted)."""
        done: list[Transfer] = []
        try:
            for t in transfers:
                if self.post(t):
                    done.append(t)
        except LedgerRefused:
            for t in reversed(done):
                self.accounts[t.debit].debits -= t.amount
                self.accounts[t.credit].credits -= t.amount
                del self.transfers[t.id]
            raise
        return len(done)


def recompute(transfers: list[Transfer] | dict[str, Transfer]) -> dict[str, tuple[int, int]]:
    """Every account's (debits, credits) from the transfers alone."""
    items = transfers.values() if isinstance(transfers, dict) else transfers
    totals: dict[str, list[int]] = {}
    for t in items:
        totals.setdefault(t.debit, [0, 0])[0] += t.amount
        totals.setdefault(t.credit, [0, 0])[1] += t.amount
    return {k: (v[0], v[1]) for k, v in totals.items()}


def violations(ledger: Ledger) -> list[str]:
    """What is wrong with the ledger (empty when every invariant holds): debits = credits in
    total; every account equals the sum of its transfers; no limit broken."""
    problems: list[str] = []
    debits = sum(a.debits for a in ledger.accounts.values())
    credits = sum(a.credits for a in ledger.accounts.values())
    if debits != credits:
        problems.append(f"total debits {debits} != total credits {credits}")
    recomputed = recompute(ledger.transfers)
    for account in ledger.accounts.values():
        expected = recomputed.get(account.id, (0, 0))
        if (account.debits, account.credits) != expected:
            problems.append(f"{account.id}: stored {(account.debits, account.credits)} != "
                            f"transfers {expected}")
        if account.limit == DEBITS_MUST_NOT_EXCEED_CREDITS and account.debits > account.credits:
            problems.append(f"{account.id}: debits exceed credits")
        if account.limit == CREDITS_MUST_NOT_EXCEED_DEBITS and account.credits > account.debits:
            problems.append(f"{account.id}: credits exceed debits (negative balance)")
    return problems
