"""A refused renewal's detail in Chinese (issue #17): the failed thresholds' messages keep
their templates, also when the refusal is rebuilt from the stored renewal (a replay)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse

from contracts.orders import RenewalFailureOut, RenewalOut
from services.orders import domain
from services.orders.renewals import refusal, refusal_body, refused_response
from services.runtime import problems
from services.runtime.i18n import translate

NOW = datetime(2024, 1, 10, tzinfo=UTC)


def _refused() -> RenewalOut:
    failures = domain.check_renewal({"E1": 88, "E2": 99}, 200, {"E1": 100, "E2": 100},
                                    domain.CHONGQING_RENEWAL, {"E1": "微创"})
    return RenewalOut(
        renewal_id="R-1", program_id="P", agreement_year=2, institution_id="H",
        demand={"E1": 88, "E2": 99}, status="refused", last_year_accepted_total=200,
        last_year_agreement={"E1": 100, "E2": 100},
        failures=[RenewalFailureOut(check=f.check, enterprise_id=f.enterprise_id,
                                    enterprise_name="微创" if f.enterprise_id else None,
                                    ratio=f.ratio, basis=f.basis, required=f.required,
                                    offered=f.offered, message=f.message) for f in failures],
        submitted_by="u", submitted_at=NOW, decided_by="u", decided_at=NOW)


def test_the_refusal_says_every_failed_threshold_in_chinese_and_english_is_unchanged() -> None:
    out = _refused()
    problem = refusal(out)
    english = ("total demand 187 is below 95 % of last year's accepted purchases 200: at least "
               "190 needed; demand 88 for enterprise E1 (微创) is below 90 % of last year's "
               "agreement volume 100: at least 90 needed")
    assert problem.body()["detail"] == english == "; ".join(f.message for f in out.failures)
    said = json.loads(translate(json.dumps(problem.body()).encode(), problem.texts()))
    assert said["title"] == "续签未通过"
    assert said["detail"] == ("总需求量 187 低于上一年度实际采购量 200 的 95 %：至少需要 190；"
                              "对企业 E1 (微创) 的需求量 88 低于其上一年度协议量 100 的 90 %："
                              "至少需要 90")


def test_the_refused_response_notes_its_problem_for_i18n() -> None:
    stored = JSONResponse(refusal_body(_refused()), status_code=422,
                          headers={"Idempotent-Replayed": "true"})
    response = refused_response(stored)
    assert response.status_code == 422
    assert response.headers["content-type"] == problems.PROBLEM_JSON
    assert response.headers["idempotent-replayed"] == "true"
    noted: list[problems.Problem] = []
    token = problems.answered.set(noted)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: Any) -> None:
        sent.append(message)

    try:
        asyncio.run(response({"type": "http"}, receive, send))
    finally:
        problems.answered.reset(token)
    assert len(noted) == 1 and "至少需要 190" in json.loads(
        translate(sent[-1]["body"], noted[0].texts()))["detail"]
