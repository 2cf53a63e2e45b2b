"""``vbp payments reconcile`` (R-PAY-6): every account's balance recomputed from the
transfers, compared with the stored balance; and the whole ledger's debits against its
credits. One pass over the transfers, grouped in the database."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

RECOMPUTE = text("""
WITH moved AS (
    SELECT debit_account AS id, amount AS debits, CAST(0 AS BIGINT) AS credits FROM transfers
    UNION ALL
    SELECT credit_account, CAST(0 AS BIGINT), amount FROM transfers
), recomputed AS (
    SELECT id, sum(debits) AS debits, sum(credits) AS credits
    FROM moved GROUP BY id
)
SELECT coalesce(a.id, r.id) AS id, a.debits_posted, a.credits_posted,
       coalesce(r.debits, 0) AS debits, coalesce(r.credits, 0) AS credits
FROM accounts a FULL OUTER JOIN recomputed r ON r.id = a.id
WHERE a.id IS NULL OR r.id IS NULL AND (a.debits_posted <> 0 OR a.credits_posted <> 0)
   OR a.debits_posted <> r.debits OR a.credits_posted <> r.credits
""")
TOTALS = text("""
SELECT (SELECT count(*) FROM transfers), (SELECT count(*) FROM accounts),
       (SELECT coalesce(sum(debits_posted), 0) FROM accounts),
       (SELECT coalesce(sum(credits_posted), 0) FROM accounts),
       (SELECT count(*) FROM accounts
        WHERE limit_kind = 'debits_must_not_exceed_credits' AND debits_posted > credits_posted
           OR limit_kind = 'credits_must_not_exceed_debits' AND credits_posted > debits_posted)
""")


@dataclass
class Report:
    transfers: int = 0
    accounts: int = 0
    debits: int = 0
    credits: int = 0
    limits_broken: int = 0
    mismatches: list[tuple[str, int | None, int | None, int, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.debits == self.credits and not self.limits_broken

    def lines(self) -> list[str]:
        out = [f"transfers: {self.transfers}", f"accounts: {self.accounts}",
               f"debits posted: {self.debits} fen", f"credits posted: {self.credits} fen",
               f"accounts over their limit: {self.limits_broken}"]
        for name, sd, sc, d, c in self.mismatches[:100]:
            out.append(f"MISMATCH {name}: stored debits {sd} credits {sc}, "
                       f"from transfers debits {d} credits {c}")
        if len(self.mismatches) > 100:
            out.append(f"... and {len(self.mismatches) - 100} more mismatches")
        out.append("OK: every balance equals its transfers" if self.ok else "NOT RECONCILED")
        return out


async def reconcile(engine: AsyncEngine) -> Report:
    """Recompute every balance from the transfers and compare."""
    async with engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # both queries see one snapshot
            await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        t, a, d, c, broken = (await conn.execute(TOTALS)).one()
        report = Report(transfers=t, accounts=a, debits=int(d), credits=int(c),
                        limits_broken=broken)
        for row in (await conn.execute(RECOMPUTE)).all():
            report.mismatches.append((row.id, row.debits_posted, row.credits_posted,
                                      int(row.debits), int(row.credits)))
    return report
