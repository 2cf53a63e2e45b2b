"""Problems in Chinese or English (issue #17): ``Accept-Language`` chooses the language of a
problem+json answer's ``title``.

English is the default. A request preferring Chinese (``Accept-Language: zh-CN``, ``zh``, or
``zh`` ranked above ``en``) gets the Chinese title, with ``Content-Language: zh-CN``; the
``detail`` stays in English (it is composed from the request's values, and names fields and
rows in the API's own words). Each title a service answers with has its Chinese here, keyed
by the English title (one slug can carry a few titles); a test checks that every refusal a
service declares in its ``errors.py`` and every common problem of the runtime has one.

Done as a pure ASGI middleware around everything else, so that every problem — a route's
refusal, a validation error, a 429 of the rate limiter, a timeout — is translated the same
way, without any route knowing about languages."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from contracts.problems import MEDIA_TYPE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ZH = "zh-CN"
EN = "en"

TITLES_ZH: dict[str, str] = {
    # runtime: every service
    "Request is not valid": "请求无效",
    "Authentication required": "需要身份认证",
    "Invalid bearer token": "令牌无效",
    "Not allowed for this role": "该角色无权执行此操作",
    "Idempotency-Key required": "缺少 Idempotency-Key（幂等键）",
    "Idempotency-Key must be 1 to 200 characters": "Idempotency-Key 长度须为 1 至 200 个字符",
    "Idempotency-Key reused with a different request": "Idempotency-Key 已用于另一请求",
    "Request body too large": "请求体过大",
    "Too many requests": "请求过于频繁",
    "Request took too long": "请求超时",
    "Service unavailable": "服务暂不可用",
    "Service not ready": "服务尚未就绪",
    "Service shutting down": "服务正在停止",
    "Internal server error": "服务器内部错误",
    "A value cannot be taken": "无法接受该取值",
    "Method Not Allowed": "不支持该请求方法",
    "Not Found": "未找到",
    "Unsupported file format": "不支持的文件格式",
    "Unsupported table format": "不支持的表格格式",
    "Table is not UTF-8 text": "表格不是 UTF-8 文本",
    "A reason is required": "须填写理由",
    "Instant is in the future": "时间不能晚于当前",
    "Instant not allowed": "时间不符合要求",
    # catalog
    "Program already exists": "项目已存在",
    "A policy profile is required": "须提供政策配置",
    "Unknown policy profile preset": "未知的政策配置预设",
    "Product already listed in this program": "该产品已在本项目挂网",
    "Table rejected, nothing imported": "表格被拒绝，未导入任何内容",
    "Table changes listed winning products": "表格改动了已挂网的中选产品",
    "Price above the national lowest": "价格高于全国最低价",
    "National lowest price unknown": "全国最低价未知",
    "You can only list your own products": "只能挂网本企业的产品",
    "Product belongs to another enterprise": "产品属于其他企业",
    # orders
    "Unit price is not the listing price": "单价不是挂网价格",
    "Unknown listing": "未知的挂网产品",
    "The listing's program is not known yet": "尚未获知该挂网产品所属项目",
    "Listing suspended": "挂网已暂停",
    "Quantity not allowed": "数量不符合要求",
    "No agreement year holds now": "当前不在任何协议年度内",
    "Outside the program's cycle": "超出项目采购周期",
    "No such agreement year": "没有该协议年度",
    "Not allowed in the order's status": "订单当前状态不允许此操作",
    "Acceptance not possible": "无法验收",
    "You act only for your own institution": "只能代表本医疗机构操作",
    "Institution not in the program's region": "医疗机构不在本项目地区",
    "Agreement import rejected, nothing imported": "协议量导入被拒绝，未导入任何内容",
    "History import rejected, nothing imported": "历史数据导入被拒绝，未导入任何内容",
    "Renewal already accepted": "续签已通过",
    "Renewal refused": "续签未通过",
    "Last year's figures changed meanwhile": "上一年度数据已发生变化",
    "Only a refused renewal takes an exception": "只有被拒绝的续签可以例外批准",
    "The profile allows no exception": "政策配置不允许例外",
    # supply
    "Distributor already registered": "配送企业已登记",
    "Unknown distributor": "未知的配送企业",
    "Assignment already ended": "配送关系已结束",
    "Bar already lifted": "禁入已解除",
    "Bar not valid": "禁入无效",
    "A bar must end after it starts": "禁入结束时间须晚于开始时间",
    "Account already opened": "账户已开通",
    "Assignment is not valid": "配送关系无效",
    "Assignment overlaps another": "配送关系与已有的重叠",
    "Order not known to supply yet": "配送服务尚未收到该订单",
    # payments
    "The ledger refuses this movement": "账本拒绝此笔记账",
    "Payment exceeds what is outstanding": "付款超过未付金额",
    "Disbursement exceeds the installment": "拨付超过该期应拨金额",
    "Fund payment already submitted": "该月基金支付已提交",
    "The file was not imported": "文件未导入",
    "Institution not known to this agency": "本经办机构无此医疗机构",
    # monitoring
    "Level not in the program's credit scheme": "该等级不在本项目信用评价方案中",
    "Program not known to monitoring": "监测服务尚未获知该项目",
    "Credit record not active": "信用记录未生效",
    "Credit record is not a proposal": "该信用记录不是待确认的建议",
    "A repair application is already pending": "已有待审核的信用修复申请",
    "No repair application pending": "没有待审核的信用修复申请",
    "Minimum period before repair not over": "尚未满足信用修复的最短期限",
    "Too soon after a refused repair": "距上次修复被拒时间过短",
    "Not a month that can be reported": "不是可报告的月份",
}
"""The Chinese of every English problem title."""

PREFIX_ZH: dict[str, str] = {" not found": "未找到：", "Order is ": "订单状态为 "}
"""Titles built from a value (``payable not found``, ``Order is shipped``): the English
affix and the Chinese phrase put before the value."""


def language(accept_language: str | None) -> str:
    """``zh-CN`` when the request ranks a Chinese tag above English (RFC 9110 weights), else
    ``en``."""
    best, best_q = EN, 0.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if (tag == "zh" or tag.startswith("zh-")) and q > best_q:
            best, best_q = ZH, q
        elif (tag == "en" or tag.startswith("en-") or tag == "*") and q > best_q:
            best, best_q = EN, q
    return best


def title_zh(title: str) -> str | None:
    if title in TITLES_ZH:
        return TITLES_ZH[title]
    if title.endswith(" not found"):
        return PREFIX_ZH[" not found"] + title.removesuffix(" not found")
    if title.startswith("Order is "):
        return PREFIX_ZH["Order is "] + title.removeprefix("Order is ")
    return None


def translate(body: bytes) -> bytes:
    """A problem+json body with its title in Chinese (unchanged when no Chinese is known)."""
    try:
        problem = json.loads(body)
    except ValueError:
        return body
    if not isinstance(problem, dict) or not isinstance(problem.get("title"), str):
        return body
    chinese = title_zh(problem["title"])
    if chinese is None:
        return body
    problem["title"] = chinese
    return json.dumps(problem, ensure_ascii=False, separators=(",", ":")).encode()


class Localise:
    """Pure ASGI middleware: problem+json titles in the language the request prefers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        accept = next((v.decode("latin-1") for k, v in scope.get("headers", ())
                       if k == b"accept-language"), None)
        if language(accept) != ZH:
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def localised(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                if any(k.lower() == b"content-type" and v.startswith(MEDIA_TYPE.encode())
                       for k, v in headers):
                    start = message  # a problem: held until its body is whole
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = translate(b"".join(chunks))
            headers = [(k, v) for k, v in start.get("headers", [])
                       if k.lower() != b"content-length"]
            headers += [(b"content-length", str(len(body)).encode()),
                        (b"content-language", ZH.encode()),
                        (b"vary", b"Accept-Language")]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, localised)
