"""Problems and API documents in Chinese or English (issue #17): ``Accept-Language`` chooses
the language of a problem+json answer's ``title`` and ``detail``, and of the OpenAPI document.

English is the default. A request preferring Chinese (``Accept-Language: zh-CN``, ``zh``, or
``zh`` ranked above ``en``) gets the Chinese, with ``Content-Language: zh-CN``. Each title a
service answers with has its Chinese here, keyed by the English title (one slug can carry a
few titles); a test checks that every refusal a service declares in its ``errors.py`` and
every common problem of the runtime has one. A detail, and each message or reason of a
problem's ``errors`` (a bad row of an import, a failed assignment check), is a ``texts.Text``:
the English, its template and its values. ``DETAILS_ZH`` holds each template's Chinese, and the
values go into it; a test walks every template written in the services and fails on one
without Chinese (tests/unit/test_i18n_templates.py). The problem answered with is noted by its
``ProblemResponse`` (``problems.answered``), so this middleware has the templates at hand. Text
composed without a template (a library's message) is matched against ``MATCHED_ZH``'s words;
what matches nothing stays in English. The OpenAPI document's descriptions and summaries come
from ``glossary`` (fields and parameters) and ``i18n_docs`` (the rest).

Done as a pure ASGI middleware around everything else, so that every problem — a route's
refusal, a validation error, a 429 of the rate limiter, a timeout — is translated the same
way, without any route knowing about languages."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from functools import cache
from typing import Any

from contracts.problems import MEDIA_TYPE
from services.runtime import glossary, problems
from services.runtime.i18n_docs import DOCS_ZH
from services.runtime.texts import Listed, Text

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


NOUNS_ZH: dict[str, str] = {
    "order": "订单", "program": "项目", "listing": "挂网产品", "agreement": "协议量",
    "renewal": "续签申请", "institution": "医疗机构", "distributor": "配送企业",
    "assignment": "配送关系", "bar": "禁入记录", "contingency": "应急处置事项",
    "payable": "应付款", "schedule": "预付计划", "installment": "预付分期",
    "record": "信用记录", "credit record": "信用记录", "report": "月度报告",
    "assessment": "年度考核", "warning": "均衡采购预警",
}
"""The objects a ``not found`` names, in Chinese."""

MATCHED_ZH: list[tuple[str, str]] = [
    # runtime: PyJWT's words for a token it refuses (passed on as it words them)
    ("Signature has expired", "令牌已过期"),
    ("Signature verification failed", "令牌签名验证失败"),
    ("Invalid audience", "令牌的 audience 无效"),
    ("Invalid issuer", "令牌的 issuer 无效"),
    ("Not enough segments", "令牌格式错误"),
    ('Token is missing the "{claim}" claim', "令牌缺少 \"{claim}\" 声明"),
]
"""The details composed without a template (a library's message, or one not yet made with
``texts.text``): their English template and Chinese, found by matching the words."""

DETAILS_ZH: list[tuple[str, str]] = [
    # runtime: every service — the limits, the token checks and the Idempotency-Key
    ("at most {limit} bytes", "请求体最多 {limit} 字节"),
    ("required", "必填"),
    ("invalid 'cursor'", "'cursor' 无效"),
    ("unknown listing", "未知的挂网产品"),
    ("unknown preset", "未知的预设方案"),
    ("needs a UTC offset (RFC 3339)", "需要带 UTC 偏移（RFC 3339）"),
    ("NUL characters are not allowed", "不允许包含 NUL 字符"),
    ("duplicate enterprise", "企业重复"),
    ("send 'Authorization: Bearer <token>'", "请发送 'Authorization: Bearer <令牌>'"),
    ("role {role!r} may not do this; allowed: {allowed}",
     "角色 {role!r} 无权执行此操作；允许的角色：{allowed}"),
    ("token needs a known 'role', an 'org' and a 'sub'",
     "令牌须包含已知的 'role'，以及 'org' 和 'sub'"),
    ("unknown signing key {kid!r}", "未知的签名密钥 {kid!r}"),
    ("token must be signed with {algorithms} and name its key ('kid')",
     "令牌须以 {algorithms} 签名并指明其密钥（'kid'）"),
    ("send an '{header}' header (1 to 200 characters, e.g. a UUID): this request creates or "
     "moves goods or money, and a retry with the same key is answered with the first response "
     "instead of doing it twice",
     "请发送 '{header}' 请求头（1 至 200 个字符，例如 UUID）：该请求会产生或转移货物或资金，"
     "使用相同键重试时将返回第一次的应答，而不会重复执行"),
    ("key {key!r} was first used with another body or route; send this request with a new "
     "Idempotency-Key (a key replays only the identical request)",
     "键 {key!r} 已用于另一请求体或路由；请使用新的 Idempotency-Key 发送本请求"
     "（一个键只重放完全相同的请求）"),
    ("your organisation's limit for this kind of request on {service} is {rate:g}/s (burst "
     "{burst}); retry in {retry} s",
     "贵机构在 {service} 上此类请求的限额为每秒 {rate:g} 次（突发 {burst} 次）；"
     "请在 {retry} 秒后重试"),
    ("not answered within {timeout:g} s; its work was cancelled",
     "未在 {timeout:g} 秒内完成应答；其处理已取消"),
    ("invalid fields: {fields}", "无效字段：{fields}"),
    ("no {what} {ident!r} visible to you", "{what} {ident!r} 不存在或您无权查看"),
    ("the service's database cannot be reached; retry after a few seconds",
     "服务数据库暂时无法连接；请几秒后重试"),
    ("quote request id {request_id} when you report it", "反馈问题时请提供请求编号 {request_id}"),
    ("{problems}", "{problems}"),
    # imports, row by row: every service
    ("{count} problem", "{count} 个问题"),
    ("{count} problems", "{count} 个问题"),
    ("{count} problems in {rows} rows", "{rows} 行中共有 {count} 个问题"),
    ("Content-Type {content_type!r}; send one of: {formats}",
     "Content-Type 为 {content_type!r}；请使用以下之一：{formats}"),
    ("the file has no rows", "文件没有数据行"),
    ("not a cursor of this list", "不是本列表的游标"),
    ("the file is empty: no header row", "文件为空：没有表头行"),
    ("the file is not UTF-8 text", "文件不是 UTF-8 文本"),
    ("the file is not UTF-8 text (bad byte at offset {offset})",
     "文件不是 UTF-8 文本（偏移 {offset} 处字节无效）"),
    ("the CSV cannot be read near line {line}: {error}", "CSV 在第 {line} 行附近无法读取：{error}"),
    ("the file is not a readable XLSX workbook ({error})",
     "文件不是可读取的 XLSX 工作簿（{error}）"),
    ("not a readable XLSX workbook ({error})", "不是可读取的 XLSX 工作簿（{error}）"),
    ("the workbook has no sheet", "工作簿没有工作表"),
    ("more than {max_rows} rows: split the file", "超过 {max_rows} 行：请拆分文件"),
    ("{name} is missing", "缺少 {name}"),
    ("{name} {value!r} is not a number", "{name} {value!r} 不是数字"),
    ("{name} {number} must not be negative", "{name} {number} 不能为负数"),
    ("{name} {number} is not a whole number", "{name} {number} 不是整数"),
    ("{name} {number} is too large (at most {most})", "{name} {number} 过大（最多 {most}）"),
    # catalog
    ("program {program!r} is already published", "项目 {program!r} 已发布"),
    ("send 'profile' or a 'preset' (one of {presets})",
     "请提供 'profile' 或 'preset'（以下之一：{presets}）"),
    ("'preset' {preset!r} is not one of {presets}", "'preset' {preset!r} 不是以下之一：{presets}"),
    ("{registration_no} is listed as {listing}", "{registration_no} 已挂网，挂网编号 {listing}"),
    ("{rows} rows differ from what is listed; nothing imported. Send 'corrections_reason' to "
     "apply them as versioned corrections.",
     "{rows} 行与已挂网的内容不同；未导入任何内容。如需作为版本化更正应用，请提供 "
     "'corrections_reason'。"),
    ("'enterprise_name' {enterprise_name!r} is enterprise {named}; you are enterprise {you}",
     "'enterprise_name' {enterprise_name!r} 是企业 {named}；您是企业 {you}"),
    ("no provincial-platform price is recorded for {registration_no}; a non-winning product is "
     "listed at no more than it (R-CAT-6)",
     "{registration_no} 没有省级平台价格记录；非中选产品的挂网价格不得高于该价格（R-CAT-6）"),
    ("R-CAT-6: requested listing price {requested:.2f} is above the national lowest price "
     "{lowest:.2f}; a non-winning product is listed at no more than the national lowest price",
     "R-CAT-6：申请的挂网价格 {requested:.2f} 高于全国最低价 {lowest:.2f}；"
     "非中选产品的挂网价格不得高于全国最低价"),
    ("no header row (a row with a 序号 or seq column) in the first {rows} rows",
     "前 {rows} 行中没有表头行（含 序号 或 seq 列的行）"),
    ("the row has {cells} cells but the header has {columns} columns",
     "该行有 {cells} 个单元格，而表头只有 {columns} 列"),
    ("header lacks column(s) {missing}", "表头缺少列：{missing}"),
    ("column {column} appears twice", "列 {column} 出现了两次"),
    ("no attachment table: no header line starting with 序号",
     "没有附件表格：没有以 序号 开头的表头行"),
    ("header on line {line}: {problem}", "第 {line} 行的表头：{problem}"),
    ("line {line}", "第 {line} 行"),
    ("lines {first}-{last}", "第 {first}-{last} 行"),
    ("{where}: expected {width} tab-separated cells, found {found}",
     "{where}：应有 {width} 个以制表符分隔的单元格，实际为 {found} 个"),
    ("line {line} continues the row but has {cells} tab-separated cells, more than the "
     "header's {width}",
     "第 {line} 行续接上一行，但有 {cells} 个以制表符分隔的单元格，多于表头的 {width} 个"),
    ("line {line} {text} looks like a row of the table (a 序号 and a name) but cannot be read "
     "as one: a row has {width} tab-separated cells",
     "第 {line} 行 {text} 看似表格的一行（有 序号 和名称），但无法按行读取："
     "每行应有 {width} 个以制表符分隔的单元格"),
    ("line {end} {end_text} ended the table after row {row}, but line {line} {text} looks "
     "like a row of it",
     "第 {end} 行 {end_text} 在第 {row} 行之后结束了表格，但第 {line} 行 {text} 看似该表格的一行"),
    ("registration certificate {certificate!r} must be 国械注 + 准/进/许 + 11 digits",
     "注册证编号 {certificate!r} 须为 国械注 + 准/进/许 + 11 位数字"),
    ("{field} is missing", "缺少 {field}"),
    ("{field} {value} is not a positive whole number", "{field} {value} 不是正整数"),
    ("{field} {value} is not a number", "{field} {value} 不是数字"),
    ("{field} {value} must not be negative", "{field} {value} 不能为负数"),
    ("{field} {value} is too large", "{field} {value} 过大"),
    ("{field} {value} has more than 2 decimal places (prices are whole fen)",
     "{field} {value} 超过 2 位小数（价格以分为单位）"),
    ("{field} {value} is not a Decimal", "{field} {value} 不是 Decimal 数值"),
    ("{problem} (data row {position}; errors use that position)",
     "{problem}（数据第 {position} 行；错误按该位置报告）"),
    ("the table has more than {max_rows} rows; split it into smaller tables",
     "表格超过 {max_rows} 行；请拆分为较小的表格"),
    ("winning price {winning} does not equal product price {product} + service price "
     "{service} = {total}",
     "中选价格 {winning} 不等于产品价格 {product} + 服务价格 {service} = {total}"),
    ("序号 {seq} is used twice: data rows {first} and {position}",
     "序号 {seq} 重复使用：数据第 {first} 行和第 {position} 行"),
    ("registration certificate {certificate} is already listed in row {first}; a certificate "
     "can win only once per program",
     "注册证 {certificate} 已在第 {first} 行列出；每个项目中一个注册证只能中选一次"),
    ("the table has no rows", "表格没有数据行"),
    ("between row {previous} (line {line}) and row {first} (line {first_line})",
     "在第 {previous} 行（第 {line} 行文本）与第 {first} 行（第 {first_line} 行文本）之间"),
    ("before row {first} (line {first_line})", "在第 {first} 行（第 {first_line} 行文本）之前"),
    ("before row {first}", "在第 {first} 行之前"),
    ("序号 {missing} missing {where}: the table has rows {present}; a row of the table is left "
     "out, so nothing is imported",
     "{where}缺少序号 {missing}：表格中的行为 {present}；表格漏了一行，因此未导入任何内容"),
    # orders: placing an order and its lifecycle (the domain's refusals)
    ("listing {listing!r} is not listed (R-CAT-5)", "挂网产品 {listing!r} 未挂网（R-CAT-5）"),
    ("program {program!r} of listing {listing!r} is not known to the orders service yet",
     "订单服务尚未获知挂网产品 {listing!r} 所属的项目 {program!r}"),
    ("listing {listing!r} is suspended and cannot be ordered (R-CAT-8): {reason}",
     "挂网产品 {listing!r} 已暂停挂网，不能下单（R-CAT-8）：{reason}"),
    ("institution {institution!r} is not registered in {region!r}",
     "医疗机构 {institution!r} 未在 {region!r} 登记"),
    ("program {program!r} is executed from {start} for {years} years (R-AGR-4: orders are "
     "filled until the cycle ends)",
     "项目 {program!r} 自 {start} 起执行 {years} 年（R-AGR-4：采购周期结束前均可下单）"),
    ("unit price {unit_price} differs from the listing price {listing_price}: orders are "
     "placed at exactly the listing price (R-CAT-5, no second negotiation)",
     "单价 {unit_price} 与挂网价格 {listing_price} 不同：须按挂网价格下单"
     "（R-CAT-5，不得再次议价）"),
    ("cannot {action} an order that is {status}: the order is already {final}, which is "
     "final", "订单状态为 {status}，不能执行 {action}：订单已是最终状态 {final}"),
    ("cannot {action} an order that is {status}: {again} is allowed only when the order is "
     "{allowed}",
     "订单状态为 {status}，不能执行 {action}：{again} 仅在订单状态为 {allowed} 时允许"),
    # orders
    ("'institution_id' {institution!r} is not your institution {org!r}",
     "'institution_id' {institution!r} 不是您所在的医疗机构 {org!r}"),
    ("{units} delivered units are not accepted: say why",
     "{units} 件已送达货物未验收：请说明理由"),
    ("program {program!r} is not known to the orders service (yet): it learns programs from "
     "catalog's events", "订单服务（尚）未获知项目 {program!r}：项目信息来自目录服务的事件"),
    ("program {program!r} has agreement years 1 to {years} (R-PRG-2), not {index}",
     "项目 {program!r} 的协议年度为 1 至 {years}（R-PRG-2），没有 {index}"),
    ("{name} must be a whole number, got {value!r}", "{name} 须为整数，实际为 {value!r}"),
    ("an order has at least 1 unit, got {units}", "订单至少 1 件，实际为 {units}"),
    ("delivered units {delivered} must be between 0 and the {ordered} ordered",
     "已送达数量 {delivered} 须在 0 与订购数量 {ordered} 之间"),
    ("accepted units must be at least 1, got {accepted}: to accept nothing, reject the order "
     "with a reason", "验收数量至少为 1，实际为 {accepted}：如不验收任何货物，请填写理由拒收订单"),
    ("accepted units {accepted} exceed the {delivered} delivered",
     "验收数量 {accepted} 超过已送达的 {delivered} 件"),
    ("name the agreement_year to evaluate", "请指明要评估的 agreement_year（协议年度）"),
    ("institutions listed twice: {institutions}", "医疗机构重复列出：{institutions}"),
    ("total demand {offered} is below {ratio} of last year's accepted purchases {basis}: at "
     "least {required} needed",
     "总需求量 {offered} 低于上一年度实际采购量 {basis} 的 {ratio}：至少需要 {required}"),
    ("demand {offered} for enterprise {enterprise} is below {ratio} of last year's agreement "
     "volume {basis}: at least {required} needed",
     "对企业 {enterprise} 的需求量 {offered} 低于其上一年度协议量 {basis} 的 {ratio}："
     "至少需要 {required}"),
    ("renewal {renewal} is {status}", "续签申请 {renewal} 的状态为 {status}"),
    ("a rejection needs a reason", "拒收须填写理由"),
    ("enterprise {enterprise!r} appears twice in the demand",
     "企业 {enterprise!r} 在需求中出现了两次"),
    ("renewal {renewal} for agreement year {year} is accepted",
     "协议年度 {year} 的续签申请 {renewal} 已通过"),
    ("an acceptance arrived while the renewal was checked: send it again",
     "续签核查期间收到了新的验收：请重新提交"),
    ("program {program!r}'s renewal thresholds admit no exception",
     "项目 {program!r} 的续签阈值不允许例外"),
    # orders: agreement and history imports (R-AGR-1)
    ("institution {institution!r} is registered as {known}, not {type}",
     "医疗机构 {institution!r} 登记的类型为 {known}，而非 {type}"),
    ("institution id is missing", "缺少医疗机构编号"),
    ("institution {institution!r} is not an institution of the program's region",
     "医疗机构 {institution!r} 不是本项目地区的医疗机构"),
    ("institution type {type!r} must be one of public, military, private (R-PRG-3)",
     "医疗机构类型 {type!r} 须为 public、military、private 之一（R-PRG-3）"),
    ("registration_no is missing", "缺少 registration_no（注册证编号）"),
    ("product {product!r} is not a winning product of this program",
     "产品 {product!r} 不是本项目的中选产品"),
    ("product {product!r} is supplied by enterprise {enterprise}, not {named}",
     "产品 {product!r} 由企业 {enterprise} 供应，而非 {named}"),
    ("institution {institution!r} and product {product!r} appear twice: rows {first} and {row}",
     "医疗机构 {institution!r} 与产品 {product!r} 重复出现：第 {first} 行和第 {row} 行"),
    ("agreement year {value!r} is not a whole number", "协议年度 {value!r} 不是整数"),
    ("agreement year {year} is not one that has started in the program's cycle ({first} to "
     "{last})", "协议年度 {year} 不是本项目周期内已开始的年度（{first} 至 {last}）"),
    ("agreement year {year} is not one that has started in the program's cycle (none yet)",
     "协议年度 {year} 不是本项目周期内已开始的年度（尚无）"),
    ("listing {listing!r} is not a winning listing of this program",
     "挂网产品 {listing!r} 不是本项目的中选挂网产品"),
    ("listing {listing!r} is product {product!r}, not {named!r}",
     "挂网产品 {listing!r} 是产品 {product!r}，而非 {named!r}"),
    ("the header lacks the column(s) {missing} (columns: {columns})",
     "表头缺少列：{missing}（可用的列：{columns}）"),
    ("the header lacks the column registration_no (or listing_id) naming the product",
     "表头缺少指明产品的 registration_no（或 listing_id）列"),
    # supply
    ("distributor {distributor!r} is already registered", "配送企业 {distributor!r} 已登记"),
    ("distributor {distributor!r} is not registered", "配送企业 {distributor!r} 未登记"),
    ("the account for {distributor} was opened at {at}", "与 {distributor} 的账户已于 {at} 开立"),
    ("{registration_no} is not a product of enterprise {enterprise} ({name})",
     "{registration_no} 不是企业 {enterprise}（{name}）的产品"),
    ("{registration_no} is not a product of enterprise {enterprise}",
     "{registration_no} 不是企业 {enterprise} 的产品"),
    ("assignment {assignment} is {status}", "配送关系 {assignment} 的状态为 {status}"),
    ("{field} {at} is after now", "{field} {at} 晚于当前时间"),
    ("order {order} is {status}: nothing more to ship or deliver",
     "订单 {order} 的状态为 {status}：没有可发货或送达的货物"),
    ("until {until} is not after {at}", "until {until} 不晚于 {at}"),
    ("bar {bar} was lifted at {at}", "禁入 {bar} 已于 {at} 解除"),
    # supply: shipments, deliveries and bars (R-SUP-3, R-SUP-4)
    ("quantity must be positive", "数量须为正数"),
    ("a step cannot precede the order's placement", "发货或送达不能早于下单时间"),
    ("shipping {units} would exceed the ordered {ordered} ({shipped} already shipped)",
     "发货 {units} 件将超过订购数量 {ordered}（已发货 {shipped} 件）"),
    ("delivering {units} would exceed the shipped {shipped} ({delivered} already delivered)",
     "送达 {units} 件将超过已发货数量 {shipped}（已送达 {delivered} 件）"),
    ("a delivery cannot precede the shipment of its goods", "送达不能早于其货物的发货"),
    ("a bar must end after it starts", "禁入结束时间须晚于开始时间"),
    ("a bar needs a reason", "禁入须填写理由"),
    ("the bar is for another distributor", "该禁入针对的是另一家配送企业"),
    ("credit level {level!r} has no bar period in the profile table",
     "信用等级 {level!r} 在政策配置表中没有禁入期限"),
    ("bar period for {level!r} is negative", "{level!r} 的禁入期限为负数"),
    # supply: assignment checks (R-SUP-1, R-SUP-4)
    ("{field} is empty", "{field} 为空"),
    ("{field} must be timezone-aware", "{field} 须带时区"),
    ("valid_until must be after valid_from", "valid_until 须晚于 valid_from"),
    ("scope must be 'institution' or 'region', not {scope!r}",
     "scope 须为 'institution' 或 'region'，而非 {scope!r}"),
    ("institution scope needs an institution_id", "医疗机构范围须指明 institution_id"),
    ("region scope needs a region", "区域范围须指明地区"),
    ("region scope cannot name an institution_id", "区域范围不能指明 institution_id"),
    ("a new assignment cannot already be revoked", "新的配送关系不能是已撤销的"),
    ("unknown distributor {distributor}", "未知的配送企业 {distributor}"),
    ("distributor {distributor} is not qualified at valid_from (R-SUP-4)",
     "配送企业 {distributor} 在 valid_from 时不具备资质（R-SUP-4）"),
    ("distributor {distributor} is not qualified at {at} (R-SUP-4)",
     "配送企业 {distributor} 在 {at} 时不具备资质（R-SUP-4）"),
    ("assignment id {assignment} is already used", "配送关系编号 {assignment} 已被使用"),
    ("overlaps assignment {assignment} for the same enterprise, product and {scope}; end it "
     "before the new one starts",
     "与同一企业、产品和 {scope} 的配送关系 {assignment} 重叠；请在新配送关系开始前结束该配送关系"),
    # payments
    ("{code} of {amount} would break account {account}: {limit}",
     "金额 {amount} 的 {code} 将突破账户 {account} 的限制：{limit}"),
    ("payable {payable!r}: 'amount' {amount} exceeds the outstanding {outstanding}",
     "应付款 {payable!r}：'amount' {amount} 超过未付金额 {outstanding}"),
    ("installment {seq} of {schedule!r}: 'amount' {amount} exceeds the undisbursed "
     "{outstanding}",
     "{schedule!r} 的第 {seq} 期：'amount' {amount} 超过未拨付金额 {outstanding}"),
    ("row {row}: {fund_payment} was submitted with {submitted}, not {amount}; a submitted month "
     "is not changed",
     "第 {row} 行：{fund_payment} 已按 {submitted} 提交，而非 {amount}；已提交的月份不能修改"),
    ("{fund_payment} was submitted with {submitted}, not {amount}; a submitted month is not "
     "changed", "{fund_payment} 已按 {submitted} 提交，而非 {amount}；已提交的月份不能修改"),
    ("no prepayment or payable of institution {institution!r} in region {region!r}",
     "地区 {region!r} 中没有医疗机构 {institution!r} 的预付款或应付款"),
    ("row {row}: no prepayment or payable of institution {institution!r} in region {region!r}",
     "第 {row} 行：地区 {region!r} 中没有医疗机构 {institution!r} 的预付款或应付款"),
    ("{count} problem(s) in row(s) {rows}; nothing was imported",
     "第 {rows} 行中共有 {count} 个问题；未导入任何内容"),
    ("the header lacks {columns}", "表头缺少 {columns}"),
    ("write amounts as text such as 848.00 (a spreadsheet number is a float)",
     "请以文本形式填写金额，例如 848.00（电子表格中的数字是浮点数）"),
    ("the same institution and month as row {first}", "与第 {first} 行的医疗机构和月份相同"),
    ("unsupported content type {content_type!r}: send text/csv or {xlsx}",
     "不支持的内容类型 {content_type!r}：请发送 text/csv 或 {xlsx}"),
    # monitoring
    ("level {level!r} is not in the {scheme} scheme: {levels}",
     "等级 {level!r} 不在 {scheme} 评价方案中：{levels}"),
    ("program {program!r} is not known to monitoring (yet), or was published without a policy "
     "profile", "监测服务（尚）未获知项目 {program!r}，或该项目发布时没有政策配置"),
    ("{month!r} is not a month (YYYY-MM)", "{month!r} 不是月份（YYYY-MM）"),
    ("{month} has not ended yet (ends {ends})", "{month} 尚未结束（结束于 {ends}）"),
    ("agreement year {year} is outside the program's {years}-year cycle",
     "协议年度 {year} 超出本项目 {years} 年的采购周期"),
    ("record {record} is {status}, not a proposal",
     "信用记录 {record} 的状态为 {status}，不是待确认的建议"),
    ("the record is {status}: only an active record is repaired",
     "该信用记录的状态为 {status}：只有生效中的记录可以修复"),
    ("the record is {status}", "该信用记录的状态为 {status}"),
    ("a repair application for this record is already pending", "该信用记录已有待审核的修复申请"),
    ("no repair application is pending for this record", "该信用记录没有待审核的修复申请"),
    ("a repair was refused at {refused_at}: apply again from {again} (repair_reapply_days "
     "{days})",
     "修复申请已于 {refused_at} 被拒绝：请于 {again} 起再次申请（repair_reapply_days 为 {days}）"),
    ("level {level} can be repaired from {earliest} (minimum period from the profile)",
     "等级 {level} 自 {earliest} 起可以修复（最短期限见政策配置）"),
    *MATCHED_ZH,
]
"""Each detail's English template and its Chinese: ``{name}`` stands for a value the detail
carries over (a ``what`` is an object named in ``NOUNS_ZH``)."""


PYDANTIC_ZH: dict[str, str] = {
    "no_such_attribute": "对象没有属性 '{attribute}'",
    "json_invalid": "JSON 无效：{error}",
    "json_type": "JSON 输入应为字符串、bytes 或 bytearray",
    "needs_python_object": "从 JSON 校验时无法检查 `{method_name}`",
    "recursion_loop": "递归错误：检测到循环引用",
    "recursion_depth_exceeded": "递归错误：超过最大校验深度",
    "missing": "缺少必填字段",
    "frozen_field": "该字段不可修改",
    "frozen_instance": "该实例不可修改",
    "extra_forbidden": "不允许额外的字段",
    "invalid_key": "键应为字符串",
    "get_attribute_error": "提取属性出错：{error}",
    "model_type": "输入应为有效的字典或 {class_name} 实例",
    "model_attributes_type": "输入应为有效的字典或可提取字段的对象",
    "dataclass_type": "输入应为字典或 {class_name} 实例",
    "dataclass_exact_type": "输入应为 {class_name} 实例",
    "named_tuple_type": "输入应为元组、列表、字典或 {class_name} 实例",
    "default_factory_not_called": "默认值工厂依赖已校验的数据，但至少有一项校验错误",
    "none_required": "输入应为 None",
    "greater_than": "输入应大于 {gt}",
    "greater_than_equal": "输入应大于或等于 {ge}",
    "less_than": "输入应小于 {lt}",
    "less_than_equal": "输入应小于或等于 {le}",
    "multiple_of": "输入应为 {multiple_of} 的倍数",
    "finite_number": "输入应为有限数",
    "too_short": "{field_type} 校验后应至少有 {min_length} 项，实际为 {actual_length} 项",
    "too_long": "{field_type} 校验后最多应有 {max_length} 项，实际为 {actual_length} 项",
    "iterable_type": "输入应可迭代",
    "iteration_error": "迭代对象出错：{error}",
    "string_type": "输入应为有效的字符串",
    "string_unicode": "输入应为有效的字符串，无法按 Unicode 解析原始数据",
    "string_too_short": "字符串至少应有 {min_length} 个字符",
    "string_too_long": "字符串最多应有 {max_length} 个字符",
    "string_pattern_mismatch": "字符串应符合模式 '{pattern}'",
    "string_not_ascii": "字符串只能包含 ASCII 字符",
    "enum": "输入应为 {expected}",
    "dict_type": "输入应为有效的字典",
    "frozen_dict_type": "输入应为有效的 frozendict",
    "ordered_dict_type": "输入应为有效的 OrderedDict",
    "counter_type": "输入应为有效的 Counter",
    "mapping_type": "输入应为有效的映射，错误：{error}",
    "list_type": "输入应为有效的列表",
    "deque_type": "输入应为有效的 deque",
    "tuple_type": "输入应为有效的元组",
    "set_type": "输入应为有效的集合",
    "set_item_not_hashable": "集合的元素应可哈希",
    "bool_type": "输入应为有效的布尔值",
    "bool_parsing": "输入应为有效的布尔值，无法解析该输入",
    "int_type": "输入应为有效的整数",
    "int_parsing": "输入应为有效的整数，无法将字符串解析为整数",
    "int_parsing_size": "无法将输入字符串解析为整数，超出最大长度",
    "int_from_float": "输入应为有效的整数，不能带小数部分",
    "float_type": "输入应为有效的数字",
    "float_parsing": "输入应为有效的数字，无法将字符串解析为数字",
    "bytes_type": "输入应为有效的 bytes",
    "bytes_too_short": "数据至少应有 {min_length} 字节",
    "bytes_too_long": "数据最多应有 {max_length} 字节",
    "bytes_invalid_encoding": "数据应为有效的 {encoding}：{encoding_error}",
    "value_error": "取值错误：{error}",
    "assertion_error": "断言失败：{error}",
    "literal_error": "输入应为 {expected}",
    "missing_sentinel_error": "输入应为 'MISSING' 哨兵值",
    "ellipsis_error": "输入应为 Ellipsis 字面量",
    "date_type": "输入应为有效的日期",
    "date_parsing": "输入应为 YYYY-MM-DD 格式的有效日期，{error}",
    "date_from_datetime_parsing": "输入应为有效的日期或日期时间，{error}",
    "date_from_datetime_inexact": "作为日期的日期时间的时间部分应为零",
    "date_past": "日期应在过去",
    "date_future": "日期应在将来",
    "time_type": "输入应为有效的时间",
    "time_parsing": "输入应为有效的时间格式，{error}",
    "datetime_type": "输入应为有效的日期时间",
    "datetime_parsing": "输入应为有效的日期时间，{error}",
    "datetime_object_invalid": "无效的日期时间对象：{error}",
    "datetime_from_date_parsing": "输入应为有效的日期时间或日期，{error}",
    "datetime_past": "输入应在过去",
    "datetime_future": "输入应在将来",
    "timezone_naive": "输入不应带时区信息",
    "timezone_aware": "输入应带时区信息",
    "timezone_offset": "时区偏移应为 {tz_expected}，实际为 {tz_actual}",
    "time_delta_type": "输入应为有效的时间间隔",
    "time_delta_parsing": "输入应为有效的时间间隔，{error}",
    "frozen_set_type": "输入应为有效的 frozenset",
    "is_instance_of": "输入应为 {class} 的实例",
    "is_subclass_of": "输入应为 {class} 的子类",
    "callable_type": "输入应可调用",
    "union_tag_invalid":
        "通过 {discriminator} 得到的标签 '{tag}' 不是预期的标签之一：{expected_tags}",
    "union_tag_not_found": "无法通过判别字段 {discriminator} 提取标签",
    "arguments_type": "参数应为元组、列表或字典",
    "missing_argument": "缺少必填参数",
    "unexpected_keyword_argument": "意外的关键字参数",
    "missing_keyword_only_argument": "缺少必填的仅限关键字参数",
    "unexpected_positional_argument": "意外的位置参数",
    "missing_positional_only_argument": "缺少必填的仅限位置参数",
    "multiple_argument_values": "参数被赋予了多个值",
    "url_type": "URL 输入应为字符串或 URL",
    "url_parsing": "输入应为有效的 URL，{error}",
    "url_syntax_violation": "输入违反严格的 URL 语法规则，{error}",
    "url_too_long": "URL 最多应有 {max_length} 个字符",
    "url_scheme": "URL 协议应为 {expected_schemes}",
    "uuid_type": "UUID 输入应为字符串、bytes 或 UUID 对象",
    "uuid_parsing": "输入应为有效的 UUID，{error}",
    "uuid_version": "应为第 {expected_version} 版 UUID",
    "decimal_type": "小数输入应为整数、浮点数、字符串或 Decimal 对象",
    "decimal_parsing": "输入应为有效的小数",
    "decimal_max_digits": "小数总位数不应超过 {max_digits} 位",
    "decimal_max_places": "小数位数不应超过 {decimal_places} 位",
    "decimal_whole_digits": "小数点前的位数不应超过 {whole_digits} 位",
    "fraction_type": "分数输入应为整数、浮点数、字符串或 Fraction 对象",
    "fraction_parsing": "输入不是有效的分数",
    "complex_type": "输入应为有效的复数对象、数字或有效的复数字符串",
    "complex_str_parsing": "输入应为有效的复数字符串",
}
"""The Chinese of pydantic's validation messages, by error type (the ``{…}`` are values of
the error's ``ctx``, as in pydantic's English template, ``problems.PYDANTIC_TEMPLATES``)."""


_PLACEHOLDER = re.compile(r"\{(\w+)(?:![rsa])?(?::[^{}]*)?\}")


@cache
def _templates_zh() -> dict[str, str]:
    pydantic = {problems.PYDANTIC_TEMPLATES[kind]: chinese for kind, chinese in PYDANTIC_ZH.items()
                if kind in problems.PYDANTIC_TEMPLATES}
    return {**pydantic, **dict(DETAILS_ZH)}


def text_zh(text: Text) -> str | None:
    """The Chinese of a text made from a template (``texts.text``), its values put into the
    template's Chinese; None when the template has none."""
    chinese = _templates_zh().get(text.template)
    if chinese is None:
        return None
    try:
        return chinese.format(**{k: _value_zh(k, v) for k, v in text.values.items()})
    except (KeyError, IndexError, ValueError):  # a value the template's error did not carry
        return None


def _value_zh(name: str, value: Any) -> Any:
    """A value as the Chinese says it: a text in Chinese, each of listed texts, an object's
    noun (``what``); anything else as it is."""
    if isinstance(value, Text):
        return text_zh(value) or value
    if isinstance(value, Listed):
        return "；".join(_value_zh(name, v) for v in value)
    if name == "what" and isinstance(value, str):
        return NOUNS_ZH.get(value, value)
    return value


@cache
def _detail_patterns() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for english, chinese in MATCHED_ZH:
        parts = _PLACEHOLDER.split(english)
        regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)"
                        for i, p in enumerate(parts))
        # the values are matched as they read, so they go back in without their conversion
        out.append((re.compile(regex, re.DOTALL), _PLACEHOLDER.sub(r"{\1}", chinese)))
    return out


def detail_zh(detail: str) -> str | None:
    """The Chinese of a detail: from its template when it is a ``Text``; otherwise (text
    composed without one: a library's message) by matching the words of ``MATCHED_ZH``'s
    templates, the values carried over. None when there is no Chinese."""
    if isinstance(detail, Text):
        return text_zh(detail)
    for pattern, chinese in _detail_patterns():
        match = pattern.fullmatch(detail)
        if match is not None:
            values = {k: NOUNS_ZH.get(v, v) if k == "what" else v
                      for k, v in match.groupdict().items()}
            return chinese.format(**values)
    return None


@cache
def _docs_zh() -> dict[str, str]:
    return {**glossary.chinese(), **DOCS_ZH}


def doc_zh(text: str) -> str | None:
    """The Chinese of a description or summary of an OpenAPI document."""
    return _docs_zh().get(text)


def _texts(node: Any) -> Iterator[tuple[dict[str, Any], str, str]]:
    """Every description and summary of an OpenAPI document, as (the object holding it, its
    key, the text); examples, defaults, enums and constants are values, not texts."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("description", "summary") and isinstance(value, str):
                yield node, key, value
            elif key not in ("examples", "example", "default", "enum", "const"):
                yield from _texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _texts(value)


def untranslated(document: dict[str, Any]) -> list[str]:
    """The descriptions and summaries of an OpenAPI document that have no Chinese."""
    return list(dict.fromkeys(text for _, _, text in _texts(document) if doc_zh(text) is None))


def document_zh(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of an OpenAPI document with every description and summary in Chinese (one
    without a Chinese stays in English)."""
    out = copy.deepcopy(document)
    for holder, key, text in list(_texts(out)):
        holder[key] = doc_zh(text) or text
    return out


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
        what = title.removesuffix(" not found")
        return PREFIX_ZH[" not found"] + NOUNS_ZH.get(what, what)
    if title.startswith("Order is "):
        return PREFIX_ZH["Order is "] + title.removeprefix("Order is ")
    return None


_SAID = ("message", "reason")
"""The members of a problem's ``errors`` entries that say something (the rest name things)."""


def translate(body: bytes, texts: Iterable[Text] = ()) -> bytes:
    """A problem+json body with its title, detail and the messages of its ``errors`` in
    Chinese (each unchanged when no Chinese is known). ``texts``: the problem's texts made
    from templates (``Problem.texts``), said from their templates and values; any other text
    is matched against the English templates."""
    try:
        problem = json.loads(body)
    except ValueError:
        return body
    if not isinstance(problem, dict) or not isinstance(problem.get("title"), str):
        return body
    known = {str(t): zh for t in texts if (zh := text_zh(t)) is not None}

    def said(english: str) -> str | None:
        return known.get(english) or detail_zh(english)

    changed = False
    title = title_zh(problem["title"])
    if title is not None:
        problem["title"], changed = title, True
    if isinstance(problem.get("detail"), str) and (detail := said(problem["detail"])):
        problem["detail"], changed = detail, True
    for entry in problem.get("errors") or ():
        if not isinstance(entry, dict):
            continue
        for key in _SAID:
            if isinstance(entry.get(key), str) and (chinese := said(entry[key])):
                entry[key], changed = chinese, True
    if not changed:
        return body
    return json.dumps(problem, ensure_ascii=False, separators=(",", ":")).encode()


class Localise:
    """Pure ASGI middleware: problem+json titles and details in the language the request
    prefers."""

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
        answered = problems.answered.set([])  # the problem answered with, templates and all

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
            noted = problems.answered.get() or []
            body = translate(b"".join(chunks), noted[-1].texts() if noted else ())
            headers = [(k, v) for k, v in start.get("headers", [])
                       if k.lower() != b"content-length"]
            headers += [(b"content-length", str(len(body)).encode()),
                        (b"content-language", ZH.encode()),
                        (b"vary", b"Accept-Language")]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        try:
            await self.app(scope, receive, localised)
        finally:
            problems.answered.reset(answered)
