"""The Chinese of every description and summary in the five OpenAPI documents that is not
a field's or parameter's from ``services.runtime.glossary`` (issue #17): route descriptions
(the endpoints' docstrings), the models' own field descriptions, the responses' and the
operations' summaries, keyed by the English text as the documents carry it.

``tests/unit/test_i18n_openapi.py`` names any English text without its Chinese here: a
docstring or description changed or added needs its Chinese too."""

from __future__ import annotations

DOCS_ZH: dict[str, str] = {
    'Healthz': '存活检查',
    'Liveness: the process answers (nothing else is checked).':
        '存活检查：进程能应答即可（不检查其他依赖）。',
    'Successful Response': '成功应答',
    'Readyz': '就绪检查',
    'Readiness: 200 when the database and Kafka are reachable; 503 names what is not.':
        '就绪检查：数据库和 Kafka 均可连接时返回 200；否则返回 503 并说明哪项不可用。',
    "not ready: 'checks' says what is not": "尚未就绪：'checks' 说明哪项不可用",
    'seconds to wait before retrying': '重试前需等待的秒数',
    'Presets': '预置政策配置',
    'The policy profiles shipped with the platform (Chongqing stents 2023, Liaoning '
    'guide\nwires 2021).':
        '平台预置的政策配置（重庆冠脉支架 2023、辽宁导丝 2021）。',
    'No valid bearer token': '缺少有效的 Bearer 令牌',
    "The caller's role may not do this": '调用方角色无权执行此操作',
    'List Programs': '项目列表',
    'Every published program with its current policy profile. Not paged: bounded by\n'
    'nature, as a region publishes a few procurement programs a year (tens over a decade).':
        '所有已发布的项目及其当前政策配置。不分页：数量天然有限，一个地区每年只发布少数几个带量采购项目'
        '（十年也不过数十个）。',
    "The service's database cannot be reached now; retry after Retry-After seconds":
        '服务数据库暂时无法连接；请在 Retry-After 秒后重试',
    'Publish Program': '发布项目',
    "Publish a program (one procurement's results in a region) with its policy\nprofile, "
    'given in full or by preset.':
        '发布一个项目（某地区一次集中带量采购的结果）及其政策配置，可完整给出或引用预置配置。',
    'a program with this id exists': '该编号的项目已存在',
    'Validation Error': '校验错误',
    'Bad request: a body that is not JSON, a malformed or missing Idempotency-Key':
        '请求错误：请求体不是 JSON，或 Idempotency-Key 格式错误或缺失',
    'Request body too large': '请求体过大',
    'the same key with the same body replays the first response; with another body it is '
    'refused (422)':
        '相同的键和相同的请求体将重放第一次的应答；请求体不同则拒绝（422）',
    'Get Program': '查询项目',
    'One program with its current policy profile.': '单个项目及其当前政策配置。',
    'Not found, or not visible to the caller': '未找到，或调用方无权查看',
    'Change Profile': '修改政策配置',
    "A new version of the program's policy profile.": '项目政策配置的新版本。',
    'Import Winning Products': '导入中选产品',
    "Import the notice's winning products table: all or nothing, every bad row reported.":
        '导入公告的中选产品表：全部成功或全部不导入，逐行报告错误。',
    "the table changes listed winning products: send 'corrections_reason' to confirm "
    '(R-CAT-1)':
        "表格改动了已挂网的中选产品：请传入 'corrections_reason' 确认（R-CAT-1）",
    'not one of the table formats': '不是支持的表格格式',
    'the table is rejected, every bad row named; nothing is imported':
        '表格被拒绝，逐行指出错误；未导入任何内容',
    'JSON {rows: [...]}': 'JSON {rows: [...]}',
    "the notice's own text (its tab-separated attachment table)":
        '公告原文（其制表符分隔的附件表格）',
    "the notice's attachment table": '公告附件表格',
    "CSV with the notice's or the English column names": 'CSV，使用公告的中文列名或英文列名',
    'XLSX, first sheet, same columns': 'XLSX，第一个工作表，列同上',
    'Search Listings': '搜索挂网产品',
    'Listed products, in a stable order (by id), paginated with ``next_cursor``.':
        '挂网产品，按编号稳定排序，通过 ``next_cursor`` 分页。',
    'in product/enterprise name': '在产品名称或企业名称中搜索',
    'List Non Winning': '挂网非中选产品',
    'List a non-winning product of the category at no more than the national lowest price.':
        '以不高于全国最低价的价格挂网本品种的非中选产品。',
    'no such program': '没有该项目',
    'the product is listed in the program': '该产品已在本项目挂网',
    'Get Listing': '查询挂网产品',
    'One listed product: price, status, payment standard.':
        '单个挂网产品：价格、状态、医保支付标准。',
    'Listing History': '挂网产品变更历史',
    'Every change of a listing: version, what, who, when, why.':
        '挂网产品的每次变更：版本、内容、操作人、时间、理由。',
    'Record Observation': '记录价格采集',
    'A price seen on a provincial platform (or a self-reported / filing price, which does '
    'not\ncount toward the national lowest).':
        '在省级平台采集到的价格（企业自报价或备案价不计入全国最低价）。',
    'List Observations': '价格采集列表',
    'The prices observed for a product on provincial platforms, by the day observed\n'
    '(R-CAT-6): a page, ``next_cursor`` leading to the next.':
        '某产品在各省级平台采集到的价格，按采集日期排列（R-CAT-6）：分页返回，``next_cursor`` '
        '指向下一页。',
    "A product's price observations, by the day observed: a page, since they accumulate\n"
    'for as long as the product is sold.':
        '某产品的价格采集记录，按采集日期排列：分页返回，因为只要产品在售，记录就会不断累积。',
    'List Audit': '审计日志',
    "Who wrote what, when, from which request: the regulator's view of this "
    "service's\nwrites, oldest first, filtered by organisation, subject and time.":
        '谁在何时通过哪个请求写入了什么：监管方查看本服务的写操作，按时间先后排列，可按机构、主'
        '体和时间筛选。',
    'R-MON-2: weight of progress (accepted units / agreement volume, capped at 1, R-AGR-3).':
        'R-MON-2：完成进度的权重（已验收量 / 协议量，上限为 1，R-AGR-3）。',
    "R-MON-2: weight of pacing (share of the year's elapsed months without a pacing "
    'warning, R-AGR-6).':
        'R-MON-2：均衡采购的权重（本年度已过月份中无均衡采购预警的比例，R-AGR-6）。',
    'R-MON-2: weight of repayment (share of settlements paid on time, R-PAY-1).':
        'R-MON-2：回款的权重（按时结算的比例，R-PAY-1）。',
    "R-MON-2: weights of the annual assessment's parts (each in 0..1, summing to exactly "
    '1).':
        'R-MON-2：年度考核各部分的权重（均在 0..1 之间，合计恰为 1）。',
    "R-CRD-2: stable code of the level, e.g. 'serious'.":
        "R-CRD-2：等级的稳定代码，例如 'serious'。",
    "R-CRD-2: the level's name in the scheme, e.g. 严重 or 严重失信.":
        'R-CRD-2：等级在评价方案中的名称，例如 严重 或 严重失信。',
    "R-CRD-3: measures applied at this level. 'distributor_bar' applies to distributors "
    'only (R-SUP-4); the others to enterprises.':
        "R-CRD-3：该等级适用的惩戒措施。'distributor_bar' 仅适用于配送企业（R-SUP-4），其余适用"
        '于生产企业。',
    'R-CRD-3: years a distributor rated at this level loses its distribution qualification '
    "in the region (2025 rules: 1, 3, 5); only with 'distributor_bar'; null with "
    "'distributor_bar' = until repaired (R-CRD-4).":
        'R-CRD-3：评为该等级的配送企业在本地区丧失配送资格的年数（2025 年规则：1、3、5 年）；仅'
        "与 'distributor_bar' 同用；与 'distributor_bar' 同用且为空表示直至信用修复（R-CRD-4）"
        '。',
    'R-CRD-4: months after the rating before a repair can be approved; null = no minimum '
    'set by the scheme.':
        'R-CRD-4：评级后至可批准信用修复的月数；为空表示评价方案未规定最短期限。',
    'One severity level of a credit scheme and the measures it carries (R-CRD-2/3).':
        '信用评价方案的一个严重程度等级及其惩戒措施（R-CRD-2/3）。',
    "R-CRD-2: 'national-2020' (four levels, in force when both seed notices were issued) "
    "or 'national-2025' (three levels).":
        "R-CRD-2：'national-2020'（四个等级，两份样本公告发布时有效）或 'national-2025'（三个等"
        '级）。',
    "R-CRD-2/3: levels from the mildest to the most severe; an enterprise's rating in a "
    'region is the most severe level among its active records.':
        'R-CRD-2/3：由轻到重的等级；企业在某地区的评级为其生效记录中最严重的等级。',
    'R-CRD-2: the credit rating scheme (医药价格和招采信用评价) a program applies.':
        'R-CRD-2：项目采用的信用评价方案（医药价格和招采信用评价）。',
    "those lines (page numbers, the header repeated, the notice's closing lines), with "
    'their line numbers; the first 1000':
        '这些行（页码、重复的表头、公告结尾文字）及其行号；最多 1000 行',
    "R-PAY-2: this installment's share of the prepayment amount; the shares of a profile's "
    "installments sum to exactly 1. The last installment is 'the remaining amount', so it "
    'absorbs any rounding.':
        'R-PAY-2：本期预付占预付总额的比例；政策配置中各期比例合计恰为 1。最后一期为"剩余金额"'
        '，吸收舍入差额。',
    'R-PAY-2/3: when the installment is due.': 'R-PAY-2/3：本期预付的到期时间。',
    'One installment of a prepayment (R-PAY-2/3).': '预付款的一期（R-PAY-2/3）。',
    'R-PAY-2: months counted from the start of the period the prepayment covers (the '
    'execution start for the first agreement year).':
        'R-PAY-2：自预付所覆盖期间开始起算的月数（第一个协议年度为执行开始时间）。',
    "R-PAY-2/3: 'end_of_calendar_month' = by the end of the Shanghai calendar month "
    "offset_months after the start's month (exclusive bound at 00:00 on the next month's "
    "first day; 1 = 次月底); 'months_after_start' = by start + offset_months calendar month"
    "s, the day clamped to the month's end (2023-01-31 + 6 = 2023-07-31); 'before_start' = "
    'before start - offset_months months (0 = before execution starts).':
        "R-PAY-2/3：'end_of_calendar_month' = 于开始月份之后第 offset_months 个上海自然月的月底"
        "前（不含下月首日 00:00；1 = 次月底）；'months_after_start' = 于开始时间加 offset_month"
        "s 个自然月之前，日期不超过该月月末（2023-01-31 + 6 = 2023-07-31）；'before_start' = 于"
        '开始时间减 offset_months 个月之前（0 = 执行开始之前）。',
    "R-PAY-2/3: when a prepayment installment is due, relative to the period's start.":
        'R-PAY-2/3：预付款一期的到期时间，相对于期间开始计算。',
    '产品价格; with service_price it makes the winning price (R-CAT-3); null where a view d'
    'oes not keep the split':
        '产品价格；与伴随服务价格合计为中选价格（R-CAT-3）；不保留拆分的视图中为空',
    '伴随服务价格': '伴随服务价格',
    'R-CRD-1, R-SUP-3: a delivery later than this many hours after the order was placed is '
    'proposed as a credit record (late delivery).':
        'R-CRD-1、R-SUP-3：下单后超过该小时数才送达的，提议为信用记录（配送超时）。',
    'R-CRD-1: an order not delivered (nor cancelled) this many days after it was placed is '
    'proposed as a credit record (unfilled order).':
        'R-CRD-1：下单后该天数内未送达（也未取消）的订单，提议为信用记录（订单未完成）。',
    'R-CRD-1, R-SUP-4: a supply risk still open this many days after it opened is proposed '
    'as a credit record.':
        'R-CRD-1、R-SUP-4：开启后该天数仍未解除的供应风险，提议为信用记录。',
    "R-CRD-1: this many quality rejections of one enterprise's deliveries in a region "
    'within the window are proposed as a credit record.':
        'R-CRD-1：同一企业在某地区于统计窗口内被质量拒收达到该次数的，提议为信用记录。',
    'R-CRD-1: the window, in days, in which rejections are counted.':
        'R-CRD-1：统计拒收次数的窗口（天）。',
    'R-CRD-4: months after a record took effect before a repair can be approved, where the '
    "record's level sets none (CreditLevel.repair_min_months).":
        'R-CRD-4：记录生效后至可批准信用修复的月数，适用于记录等级未规定的情况（CreditLevel.rep'
        'air_min_months）。',
    'R-CRD-4: days after a refused repair before the enterprise may apply again.':
        'R-CRD-4：信用修复被拒后，企业可再次申请前须等待的天数。',
    'R-AGR-3, R-MON-1: an institution × product whose projected progress at the end of the '
    'agreement year is below this share is a completion risk.':
        'R-AGR-3、R-MON-1：医疗机构 × 产品在协议年度末的预计完成进度低于该比例的，视为完成风险'
        '。',
    'R-MON-2: weights of the annual assessment.': 'R-MON-2：年度考核的权重。',
    'R-CRD-1/4, R-MON-1/2: thresholds of the monitoring service (defaults are ours: '
    'the\nnotices set none).':
        'R-CRD-1/4、R-MON-1/2：监测服务的阈值（默认值由平台设定，公告未作规定）。',
    'requested listing price; capped at the national lowest': '申请的挂网价格；不得高于全国最低价',
    'Body of ``POST /v1/listings``: an enterprise lists a non-winning product (R-CAT-6).':
        '``POST /v1/listings`` 的请求体：企业挂网非中选产品（R-CAT-6）。',
    'R-PAY-4: recovery starts in the month after this period ends; the notice is ambiguous '
    "('采购周期结束后'), default 'agreement_year' since prepayments are computed per agreem"
    "ent year. Liaoning (R-PAY-3): 'cycle'.":
        'R-PAY-4：自该期间结束后的次月开始扣回；公告表述不明确（"采购周期结束后"），因预付按协'
        "议年度计算，默认 'agreement_year'。辽宁（R-PAY-3）：'cycle'。",
    "R-PAY-4: 'monthly_fund_deduction' = deducted from the institution's monthly fund "
    "payments, carrying over until fully offset (Chongqing); 'clear_and_recover' = cleared "
    "against the agreement's completion and recovered after the period (Liaoning, 清算并收"
    '回).':
        "R-PAY-4：'monthly_fund_deduction' = 从医疗机构每月医保基金支付中扣减，未扣完的结转至下"
        "月（重庆）；'clear_and_recover' = 按协议完成情况清算，期满后收回（辽宁，清算并收回）。",
    'R-PAY-3/4: how an outstanding prepayment is recovered.': 'R-PAY-3/4：未冲抵预付款的收回方式。',
    'R-AGR-6: whether pacing is monitored (Liaoning: yes; Chongqing: not set).':
        'R-AGR-6：是否监测均衡采购（辽宁：是；重庆：未规定）。',
    "R-AGR-6: a month's orders above this multiple of the monthly share (annual agreement "
    'volume / 12) raise a pacing warning. Default 2.':
        'R-AGR-6：某月采购量超过月度份额（年度协议量 / 12）的该倍数时产生均衡采购预警。默认 2。',
    'R-AGR-6: cumulative orders further than this share of the annual volume ahead of or '
    'behind the even line raise a pacing warning. Default 0.25.':
        'R-AGR-6：累计采购量偏离均衡进度线超过年度协议量的该比例（超前或滞后）时产生均衡采购预'
        '警。默认 0.25。',
    'R-AGR-6: even pacing of purchases over the months (no 扎堆采购).':
        'R-AGR-6：按月均衡采购（不得扎堆采购）。',
    "R-CAT-7: 'winning_price' = a winning product's payment standard is its winning price, "
    "fully covered (Chongqing); 'category_cap' = the winning price, or the category cap "
    'when that is lower (Liaoning guide wires 2021: 720.00).':
        "R-CAT-7：'winning_price' = 中选产品的医保支付标准为其中选价格，全额覆盖（重庆）；'cate"
        "gory_cap' = 中选价格与品种支付标准高限中的较低者（辽宁导丝 2021：720.00）。",
    "R-CAT-7: the category cap (支付标准高限) in yuan; required with 'category_cap', not al"
    'lowed otherwise.':
        "R-CAT-7：品种支付标准高限（元）；'category_cap' 时必填，其他情况不得填写。",
    'R-CAT-7: non-winning products keep their previous payment standard.':
        'R-CAT-7：非中选产品沿用原医保支付标准。',
    'R-CAT-7: the price up to which the insurance fund pays (医保支付标准).':
        'R-CAT-7：医保基金支付的价格上限（医保支付标准）。',
    "Version of the program's profile; each change is a new version (R-AGR-9: no change "
    'outside the platform, every change recorded).':
        '项目政策配置的版本；每次修改为一个新版本（R-AGR-9：不得在平台外修改，每次修改均有记录'
        '）。',
    'R-AGR-2: renewal thresholds; none by default.': 'R-AGR-2：续签门槛；默认无。',
    "R-AGR-3: the agreement volume must be completed within the 'agreement_year' "
    "(Chongqing, yearly agreements) or the 'cycle' (Liaoning).":
        "R-AGR-3：协议量须在 'agreement_year'（重庆，按年签订协议）或 'cycle'（辽宁）内完成。",
    'R-AGR-6: even pacing over the months.': 'R-AGR-6：按月均衡采购。',
    'R-PAY-1: settlement deadline after acceptance.': 'R-PAY-1：验收后的结算期限。',
    'R-PAY-2/3/5: prepayment schedule, or direct settlement.':
        'R-PAY-2/3/5：预付计划，或直接结算。',
    'R-PAY-3/4: how prepayments are recovered; required when prepaying institutions, '
    'absent with direct settlement.':
        'R-PAY-3/4：预付款的收回方式；预付医疗机构时必填，直接结算时不填。',
    'R-CAT-7: payment standard of winning products.': 'R-CAT-7：中选产品的医保支付标准。',
    'R-CRD-2/3/4: credit rating levels and their measures.':
        'R-CRD-2/3/4：信用评价等级及其惩戒措施。',
    'R-SUP-6: stock must be prepared by the Shanghai business date this many days before '
    "the execution start's date (Liaoning: 1, i.e. 2021-10-14); null = the notice sets no "
    'date.':
        'R-SUP-6：须在执行开始日期前该天数的上海营业日之前完成备货（辽宁：1，即 2021-10-14）；'
        '为空表示公告未规定日期。',
    'R-CRD-1/4, R-MON-1/2: proposal thresholds, repair periods, completion-risk threshold '
    'and assessment weights (defaults when a profile predates them).':
        'R-CRD-1/4、R-MON-1/2：提议阈值、修复期限、完成风险阈值和考核权重（政策配置早于这些设置'
        '时使用默认值）。',
    'Every parameter of a program (配套政策), versioned. See RULES.md for each rule.':
        '项目的全部参数（配套政策），带版本。各规则见 RULES.md。',
    "R-PAY-5: 'prepay_institution' = the fund prepays institutions (R-PAY-2/3); "
    "'direct_settlement' = the fund pays enterprises directly for accepted goods and "
    'nothing is prepaid. A program runs in one mode.':
        "R-PAY-5：'prepay_institution' = 医保基金向医疗机构预付（R-PAY-2/3）；'direct_settlemen"
        "t' = 医保基金就已验收货物直接向企业结算，不预付。一个项目只采用一种方式。",
    "R-PAY-2/3: share of the institution's agreement-year procurement amount (agreement "
    'volume × winning price) that is prepaid: Chongqing 1 (50 % then the remaining '
    "amount), Liaoning 0.5 (the minimum). Required for 'prepay_institution'.":
        'R-PAY-2/3：预付占医疗机构协议年度采购金额（协议量 × 中选价格）的比例：重庆 1（先付 50%'
        "，再付剩余金额），辽宁 0.5（最低比例）。'prepay_institution' 时必填。",
    'R-PAY-3: the lowest amount_share the notice allows (Liaoning: at least 50 % of the '
    'annual agreement amount); null = the notice fixes the amount.':
        'R-PAY-3：公告允许的最低预付比例（辽宁：不低于年度协议金额的 50%）；为空表示公告固定了'
        '金额。',
    'R-PAY-2/3: the schedule, in order; shares sum to exactly 1. Empty for '
    "'direct_settlement'.":
        "R-PAY-2/3：按顺序排列的预付计划；各期比例合计恰为 1。'direct_settlement' 时为空。",
    'R-PAY-2/3/5: medical-insurance prepayment to institutions, or direct settlement.':
        'R-PAY-2/3/5：医保基金向医疗机构预付，或直接结算。',
    'where the price was seen (not blank)': '价格采集地点（不得为空）',
    'R-CAT-6: a price, more than 0.00': 'R-CAT-6：价格，须大于 0.00',
    'Body of ``POST /v1/price-observations`` (operators feed these in, R-CAT-6).':
        '``POST /v1/price-observations`` 的请求体（由运营方录入，R-CAT-6）。',
    'Body of ``POST /v1/programs/{program_id}/profile``: a new profile version.':
        '``POST /v1/programs/{program_id}/profile`` 的请求体：新的政策配置版本。',
    "name of a shipped policy profile preset, if no 'profile'":
        "未提供 'profile' 时使用的预置政策配置名称",
    'Body of ``POST /v1/programs``.': '``POST /v1/programs`` 的请求体。',
    "R-AGR-2: an institution's total reported demand for the next agreement year must be "
    'at least this share of its actual (accepted) purchases in the previous year; null = '
    'no threshold (Chongqing 0.95, Liaoning none). Units are whole: the threshold is '
    'rounded up.':
        'R-AGR-2：医疗机构下一协议年度申报的总需求量不得低于其上一年度实际（已验收）采购量的该'
        '比例；为空表示无门槛（重庆 0.95，辽宁无）。数量为整数，门槛向上取整。',
    'R-AGR-2: demand for each winning enterprise must be at least this share of that '
    "enterprise's agreement volume at the institution in the previous year; null = no "
    'threshold (Chongqing 0.90, Liaoning none).':
        'R-AGR-2：对每个中选企业的需求量不得低于该医疗机构上一年度该企业协议量的该比例；为空表'
        '示无门槛（重庆 0.90，辽宁无）。',
    "R-AGR-2: the thresholds hold 'in principle' (原则上): a renewal that breaks one is acc"
    'epted only with a regulator-approved exception and a reason. False = never.':
        'R-AGR-2：门槛为"原则上"：不满足门槛的续签只有经监管方批准例外并说明理由才能通过。False'
        ' 表示不允许例外。',
    "R-AGR-2: thresholds a renewal (next agreement year's demand) must meet.":
        'R-AGR-2：续签（下一协议年度需求量）须满足的门槛。',
    'R-PAY-1: the deadline falls in the Shanghai month this many months after the '
    'acceptance month (1 = 次月底, the end of the next month).':
        'R-PAY-1：结算期限位于验收月份之后第该数个上海自然月（1 = 次月底）。',
    "R-PAY-1, R-PRG-4: 'end_of_month' = the exclusive bound 00:00 Asia/Shanghai on the "
    'first day of the following month.':
        "R-PAY-1、R-PRG-4：'end_of_month' = 次月首日 00:00（上海时间），不含。",
    'R-PAY-1: when an institution must pay the enterprise for accepted goods.':
        'R-PAY-1：医疗机构须向企业支付已验收货款的期限。',
    '1-based line number in the text sent': '所发送文本中的行号（从 1 开始）',
    "A line of the notice's text inside the table that is not a row of it (R-CAT-1).":
        '公告文本中位于表格内但不是数据行的一行（R-CAT-1）。',
    'One invalid field (``body.rows.3.product_price``, ``query.limit``) or bad row.':
        '一个无效字段（``body.rows.3.product_price``、``query.limit``）或错误行。',
    'where: body.…, query.…, header.…': '位置：body.…、query.…、header.…',
    'An RFC 9457 problem: what went wrong, in a form a program can act on.':
        'RFC 9457 问题详情：说明出了什么问题，便于程序处理。',
    'stable identifier of the kind of problem, urn:vbp:problem:<slug>':
        '问题类型的稳定标识，urn:vbp:problem:<slug>',
    'short summary of the kind of problem': '问题类型简述',
    'the HTTP status code': 'HTTP 状态码',
    'what went wrong this time': '本次出错的具体说明',
    'every invalid field or bad row, when there are any': '所有无效字段或错误行（如有）',
    "the request's x-request-id (on 500s: quote it when you report the error)":
        '请求的 x-request-id（500 错误时请在反馈中提供）',
    "One row of the notice's attachment table, already read (R-CAT-1).":
        '公告附件表格中已读取的一行（R-CAT-1）。',
    'yuan, more than 0.00 and at most 1000000.00': '元，大于 0.00 且不超过 1000000.00',
    'yuan, 0.00 to 1000000.00': '元，0.00 至 1000000.00',
    'List Listings': '挂网产品列表',
    "Listed products that may be ordered (the orders service's read model of the "
    "catalog).\nAn enterprise sees only its own products, as in catalog's ``GET "
    '/v1/listings``.':
        '可下单的挂网产品（订单服务中的目录读模型）。企业只能看到本企业的产品，与目录服务的 ``G'
        'ET /v1/listings`` 一致。',
    "The programs as the orders service knows them (from catalog's events). Not paged:\n"
    'bounded by nature, as a region publishes a few procurement programs a year.':
        '订单服务所知的项目（来自目录服务的事件）。不分页：数量天然有限，一个地区每年只发布少数几个带量采购项目。',
    'Register Institutions': '登记医疗机构',
    "Register a region's institutions (R-PRG-3); imports and orders of the region's "
    'programs\nthen accept only them.':
        '登记某地区的医疗机构（R-PRG-3）；此后该地区项目的导入和订单只接受已登记的医疗机构。',
    'required by this route (400 idempotency-key-required without it); the same key with '
    'the same body replays the first response; with another body it is refused (422)':
        '本接口必须提供（缺少时返回 400 idempotency-key-required）；相同的键和相同的请求体将重'
        '放第一次的应答；请求体不同则拒绝（422）',
    'List Institutions': '医疗机构列表',
    'The registered medical institutions the caller may see.': '调用方可查看的已登记医疗机构。',
    'Import Agreements': '导入协议量',
    "Import one agreement year's volumes (R-AGR-1): CSV or XLSX, all or nothing, every "
    'bad\nrow reported; the same file again is a no-op.':
        '导入一个协议年度的协议量（R-AGR-1）：CSV 或 XLSX，全部成功或全部不导入，逐行报告错误；'
        '再次导入相同文件不产生变化。',
    'not CSV or XLSX': '不是 CSV 或 XLSX',
    'the file is rejected, every bad row named; nothing is imported':
        '文件被拒绝，逐行指出错误；未导入任何内容',
    'CSV, UTF-8, with a header row': 'CSV，UTF-8，带表头行',
    'XLSX, first sheet, with a header row': 'XLSX，第一个工作表，带表头行',
    'Import History': '导入历史数据',
    "Onboard a program under way: earlier agreement years' volumes and each "
    "institution's\nactual accepted purchases per product (columns ``agreement_year, "
    'institution_id,\ninstitution_type, enterprise_id (optional), registration_no, '
    'agreement_units,\naccepted_units``), CSV or XLSX, all or nothing, every bad row '
    'named; the same file again\nis a no-op. Renewal (R-AGR-2) and progress (R-AGR-3) read '
    'them as accepted orders.':
        '接入进行中的项目：以往协议年度的协议量及各医疗机构按产品的实际验收采购量（列为 ``agree'
        'ment_year, institution_id, institution_type, enterprise_id（可选）, registration_no, a'
        'greement_units, accepted_units``），CSV 或 XLSX，全部成功或全部不导入，逐行指出错误；'
        '再次导入相同文件不产生变化。续签（R-AGR-2）和完成进度（R-AGR-3）将其视为已验收订单。',
    'Unsupported Content-Type': '不支持的 Content-Type',
    'List Agreements': '协议量列表',
    'Agreement volumes with progress and remaining volume (R-AGR-3); an institution sees '
    'its\nown, an enterprise those of its products, regulators and operators all.':
        '协议量及其完成进度和剩余量（R-AGR-3）；医疗机构查看本机构的，企业查看本企业产品的，监'
        '管方和运营方查看全部。',
    'Get Agreement': '查询协议量',
    'One agreement volume (institution × product × agreement year) with its progress.':
        '单个协议量（医疗机构 × 产品 × 协议年度）及其完成进度。',
    'Agreement History': '协议量变更历史',
    'Every version of an agreement: who recorded it, when, why (R-AGR-9).':
        '协议量的每个版本：记录人、时间、理由（R-AGR-9）。',
    'Progress': '完成进度',
    'Progress per product, per enterprise and in total, with pacing warnings (R-AGR-3/6). '
    "An\ninstitution sees its own; a regulator one institution's, or the sum over the "
    "filters.\nThe agreement year defaults to the one holding now. Not paged: one program's "
    'report,\nbounded by its winning products (tens) and their enterprises.':
        '按产品、按企业及合计的完成进度，以及均衡采购预警（R-AGR-3/6）。医疗机构查看本机构的；'
        '监管方查看某一医疗机构的，或按筛选条件汇总。协议年度默认为当前所在年度。不分页：'
        '这是一个项目的报告，行数受该项目的中选产品（数十个）及其企业所限。',
    'no such program, or another institution': '没有该项目，或属于其他医疗机构',
    'Submit Renewal': '提交续签',
    "Next agreement year's demand (R-AGR-2): accepted (201), or refused (422 problem "
    'naming\nevery failed check with its numbers; stored, so a regulator may approve an '
    'exception).':
        '下一协议年度的需求量（R-AGR-2）：通过（201），或拒绝（422，问题详情列出每项未通过的检'
        '查及其数值；续签申请会保存，以便监管方批准例外）。',
    "a renewal of the year is accepted, or last year's figures changed meanwhile":
        '本年度的续签已通过，或上一年度数据已发生变化',
    'refused (type renewal-refused): every failed threshold with numbers, and the stored '
    'renewal':
        '拒绝（类型 renewal-refused）：列出每项未满足的门槛及数值，以及已保存的续签申请',
    'List Renewals': '续签列表',
    'Renewal requests the caller may see (R-AGR-2).': '调用方可查看的续签申请（R-AGR-2）。',
    'Approve Exception': '批准例外',
    'A regulator accepts a refused renewal as an exception, with a reason (R-AGR-2).':
        '监管方将被拒绝的续签作为例外批准，并说明理由（R-AGR-2）。',
    'the renewal is not a refused one': '该续签不是被拒绝的续签',
    'Get Renewal': '查询续签',
    'One renewal request with its decision and the checks it failed (R-AGR-2).':
        '单个续签申请及其决定和未通过的检查（R-AGR-2）。',
    'Renewal History': '续签变更历史',
    'Every change of a renewal request: who, when, why.':
        '续签申请的每次变更：操作人、时间、理由。',
    'Place Order': '下单',
    'A purchase order at exactly the listing price (R-CAT-5); send an '
    'Idempotency-Key.\nOrders placed at the same moment share a transaction, a context '
    "query and an insert\n(runtime/groupcommit.py), holding the institution's placement "
    'lock.':
        '按挂网价格下采购订单（R-CAT-5）；请提供 Idempotency-Key。同一时刻下的订单共用一个事务'
        '、一次上下文查询和一次插入（runtime/groupcommit.py），并持有该医疗机构的下单锁。',
    'List Orders': '订单列表',
    'Orders, oldest first, each caller seeing only its own (``order_views.ORDER_VIEWERS``).':
        '订单，最早的在前，每个调用方只能看到自己的（``order_views.ORDER_VIEWERS``）。',
    'Get Order': '查询订单',
    'One order with its status, class and quantities.': '单个订单及其状态、类别和数量。',
    'Order History': '订单变更历史',
    'Every change of the order: what, who, when, why (R-AGR-9).':
        '订单的每次变更：内容、操作人、时间、理由（R-AGR-9）。',
    'Cancel Order': '取消订单',
    'Cancel before shipping (R-AGR-8).': '发货前取消（R-AGR-8）。',
    "not allowed in the order's status (R-AGR-8)": '订单当前状态不允许此操作（R-AGR-8）',
    'Accept Order': '验收订单',
    'Accept a delivered order, fully or partly (R-AGR-8); starts the settlement clock.':
        '全部或部分验收已送达的订单（R-AGR-8）；开始计算结算期限。',
    'Reject Order': '拒收订单',
    'Reject a delivered order, with a reason (R-AGR-8).':
        '拒收已送达的订单，须说明理由（R-AGR-8）。',
    'List Pacing Warnings': '均衡采购预警列表',
    "Pacing warnings (R-AGR-6): an institution's own; all for regulators and operators.":
        '均衡采购预警（R-AGR-6）：医疗机构查看本机构的；监管方和运营方查看全部。',
    'Evaluate Pacing': '评估均衡采购',
    'Judge the closed months of an agreement year (R-AGR-6; run monthly). Warnings '
    'already\nraised are not raised again.':
        '评估某协议年度已结束的月份（R-AGR-6；每月运行）。已产生的预警不会重复产生。',
    'Body of ``POST /v1/orders/{id}/acceptance`` (交货验收): all delivered units, or fewer'
    '\n(a partial acceptance, with a reason for the units refused).':
        '``POST /v1/orders/{id}/acceptance`` 的请求体（交货验收）：验收全部送达数量，或较少数量'
        '（部分验收，须说明拒收部分的理由）。',
    'new agreements': '新增的协议量',
    'agreements whose units changed (a new version)': '数量发生变化的协议量（新版本）',
    'What an agreement-volume import did (R-AGR-1). ``replayed`` = the same file was '
    'imported\nbefore (same content hash): nothing changed.':
        '协议量导入的结果（R-AGR-1）。``replayed`` = 该文件此前已导入（内容哈希相同）：没有任何'
        '变化。',
    "the enterprise's name, from catalog's listings": '企业名称，来自目录服务的挂网产品',
    'An agreement volume with its progress (R-AGR-3): accepted units / agreement units.':
        '协议量及其完成进度（R-AGR-3）：已验收量 / 协议量。',
    "Body of ``POST /v1/renewals/{id}/exception``: a regulator's approved exception.":
        '``POST /v1/renewals/{id}/exception`` 的请求体：监管方批准的例外。',
    'One change of an order, agreement or renewal: what, who, when, why (R-AGR-9).':
        '订单、协议量或续签的一次变更：内容、操作人、时间、理由（R-AGR-9）。',
    'agreements whose units changed': '数量发生变化的协议量',
    'new actual-purchase records': '新增的实际采购记录',
    'actual purchases whose units changed': '数量发生变化的实际采购记录',
    'What a history import (``POST /v1/programs/{id}/history``) did: per agreement year, '
    'the\nagreement volumes (as an agreement import would record them) and the actual '
    'purchases.\n``replayed`` = the same file was imported before (same content hash): '
    'nothing changed.':
        '历史数据导入（``POST /v1/programs/{id}/history``）的结果：按协议年度列出协议量（与协议'
        '量导入的记录方式相同）和实际采购量。``replayed`` = 该文件此前已导入（内容哈希相同）：'
        '没有任何变化。',
    'One institution of a region (R-PRG-3).': '某地区的一个医疗机构（R-PRG-3）。',
    'Body of ``POST /v1/institutions``: the institutions of a region. Once a region has '
    "any,\nagreement imports and orders of that region's programs accept only them.":
        '``POST /v1/institutions`` 的请求体：某地区的医疗机构。地区一旦登记了医疗机构，该地区项'
        '目的协议量导入和订单只接受已登记的医疗机构。',
    'exactly the listing price (R-CAT-5)': '须与挂网价格完全一致（R-CAT-5）',
    'Body of ``POST /v1/orders``: at exactly the listing price (R-CAT-5).':
        '``POST /v1/orders`` 的请求体：价格须与挂网价格完全一致（R-CAT-5）。',
    'of a rejection or a cancellation': '拒收或取消的理由',
    "Body of ``POST /v1/pacing/evaluations``: judge every closed month of a program's "
    'agreement\nyear (default: the year holding now) that has not been judged yet.':
        '``POST /v1/pacing/evaluations`` 的请求体：评估某项目协议年度（默认当前年度）中尚未评估'
        '的所有已结束月份。',
    "The orders service's read model of a program (from catalog's events).":
        '订单服务中项目的读模型（来自目录服务的事件）。',
    'Progress of one product, one enterprise, or the total (R-AGR-3). ``progress`` is '
    'null\nwhere there is no agreement volume to measure against (R-AGR-4).':
        '单个产品、单个企业或合计的完成进度（R-AGR-3）。没有可对照的协议量时 ``progress`` 为空'
        '（R-AGR-4）。',
    "An institution's (or, for a regulator, every matching institution's) execution of "
    "one\nprogram's agreement year: per product, per enterprise and in total, winning "
    'products only;\nnon-winning purchases (R-AGR-5) are counted apart.':
        '某医疗机构（监管方则为所有匹配的医疗机构）在某项目某协议年度的执行情况：按产品、按企业'
        '及合计，仅含中选产品；非中选产品采购（R-AGR-5）单独统计。',
    'Body of ``POST /v1/orders/{id}/cancel`` and ``/rejection``.':
        '``POST /v1/orders/{id}/cancel`` 和 ``/rejection`` 的请求体。',
    'the year being renewed for': '续签所针对的协议年度',
    "Body of ``POST /v1/renewals``: next agreement year's demand, per winning enterprise.":
        '``POST /v1/renewals`` 的请求体：下一协议年度按中选企业的需求量。',
    'Register Distributor': '登记配送企业',
    'Register a distribution company, with its standing qualification.': '登记配送企业及其资质。',
    'a distributor with this id is registered': '该编号的配送企业已登记',
    'List Distributors': '配送企业列表',
    "The registry, with each distributor's qualification status now (qualified, "
    'barred,\nunqualified).':
        '配送企业名录，以及各配送企业当前的资质状态（合格、禁入、不合格）。',
    'in the name': '在名称中搜索',
    'Get Distributor': '查询配送企业',
    'One distribution company, with its bar if it is on the violation list.':
        '单个配送企业；如已列入违规名单，附带禁入记录。',
    'Distributor History': '配送企业变更历史',
    'Registration, bars and lifts: who, when, why.': '登记、禁入和解除：操作人、时间、理由。',
    'Bar Distributor': '禁入配送企业',
    'Place a distributor on the violation list (R-SUP-4). At once: its assignments '
    'are\nrevoked, its unshipped orders re-routed or flagged as supply risks, and every '
    'enterprise\naffected gets a contingency item.':
        '将配送企业列入违规名单（R-SUP-4）。随即撤销其配送关系，其未发货订单改派或标记为供应风'
        '险，每个受影响的企业都会产生一项应急处置事项。',
    'no such distributor': '没有该配送企业',
    "invalid: give exactly one of 'until' and 'years'; 'until' after now":
        "无效：'until' 和 'years' 须且只能提供一个；'until' 须晚于当前时间",
    'List Bars': '违规名单',
    'The violation list (public): every bar, active or not.':
        '违规名单（公开）：所有禁入记录，无论是否有效。',
    'Lift Bar': '解除禁入',
    'Lift a listing: qualification comes back (once no other bar holds the '
    'distributor);\nthe revoked assignments do not.':
        '解除禁入：资质恢复（如该配送企业没有其他有效禁入）；已撤销的配送关系不会恢复。',
    'the bar is lifted already': '该禁入已解除',
    'Get Bar': '查询禁入记录',
    'One entry of the violation list (R-SUP-4).': '违规名单中的一条记录（R-SUP-4）。',
    'Record Assignment': '确定配送关系',
    'The calling enterprise chooses a distributor for one of its products, for '
    'one\ninstitution or one region (R-SUP-1). Orders waiting for one are routed at once.':
        '调用方企业为其某个产品选定配送企业，适用于单个医疗机构或整个地区（R-SUP-1）。等待配送'
        '企业的订单随即分配。',
    'overlaps a live assignment of the product and place': '与该产品和地点的有效配送关系重叠',
    'List Assignments': '配送关系列表',
    'Enterprises see their own; distributors those naming them; institutions those '
    'naming\nthem; regulators and operators all.':
        '企业查看本企业的；配送企业查看指定自己的；医疗机构查看涉及自己的；监管方和运营方查看全'
        '部。',
    'Revoke Assignment': '撤销配送关系',
    'The enterprise ends an assignment; orders placed afterwards are not routed by '
    'it\n(R-SUP-1).':
        '企业终止配送关系；此后下的订单不再据此分配（R-SUP-1）。',
    'the assignment has ended already': '该配送关系已结束',
    'Get Assignment': '查询配送关系',
    'One distributor assignment (R-SUP-1).': '单个配送关系（R-SUP-1）。',
    'Assignment History': '配送关系变更历史',
    'Every change of an assignment: who, when, why.': '配送关系的每次变更：操作人、时间、理由。',
    'Record Account': '记录开户',
    'The calling institution requested or opened an account with a distributor. '
    'Tracked\nonly: an unopened account never holds up supply (R-AGR-7).':
        '调用方医疗机构已向配送企业申请或开立账户。仅作跟踪：未开户从不影响供应（R-AGR-7）。',
    'the account is opened already': '该账户已开立',
    'List Accounts': '开户列表',
    'Accounts institutions requested or opened (R-SUP-2); paginated by offset.':
        '医疗机构已申请或开立的账户（R-SUP-2）；按偏移量分页。',
    'Open Account Items': '未开户事项',
    'Assigned institution–distributor pairs whose account is not opened (R-SUP-2): '
    'for\nfollow-up; they never block supply.':
        '已建立配送关系但尚未开户的医疗机构–配送企业组合（R-SUP-2）：供跟进，从不阻碍供应。',
    'offset': '偏移量',
    'Orders as supply sees them. A distributor sees the orders routed to it (its '
    'work\nqueue); an enterprise and an institution their own.':
        '配送服务视角的订单。配送企业查看分配给自己的订单（其工作队列）；企业和医疗机构查看自己'
        '的。',
    'One order as supply sees it: routing, shipments and deliveries.':
        '配送服务视角的单个订单：分配、发货和送达情况。',
    'Record Shipment': '记录发货',
    'The distributor the order is routed to ships (part of) it. Idempotency-Key required.':
        '订单所分配的配送企业发出（部分）货物。须提供 Idempotency-Key。',
    'the order is not open for this (cancelled, or not routed to you)':
        '该订单不能执行此操作（已取消，或未分配给您）',
    'Record Delivery': '记录送达',
    'The distributor delivers (part of) what it shipped; delivery time is measured '
    'from\nplacement to the last unit delivered (R-SUP-3). Idempotency-Key required.':
        '配送企业送达（部分）已发货物；配送时长从下单计至最后一件送达（R-SUP-3）。须提供 Idempo'
        'tency-Key。',
    'Delivery Stats': '配送时效统计',
    'Delivery time (placed → fully delivered), per distributor and enterprise, in '
    'hours:\nmean and nearest-rank 90th percentile (R-SUP-3).':
        '按配送企业和生产企业统计的配送时长（下单 → 全部送达），单位小时：平均值及最近秩第 90 '
        '百分位（R-SUP-3）。',
    'List Risks': '供应风险列表',
    'Orders nobody may distribute now, until an assignment routes them.':
        '当前无人可配送的订单，直至有配送关系将其分配。',
    'Route Pending': '分配待配送订单',
    'Route the pending orders an assignment now covers (one that has started since it '
    'was\nrecorded). Safe to call any time.':
        '分配某配送关系现已覆盖的待配送订单（记录后才开始生效的配送关系）。可随时调用。',
    'List Contingencies': '应急处置事项列表',
    'Enterprises that lost a distributor to a bar and must assign another (R-SUP-4).':
        '因配送企业被禁入而失去配送企业、须另行选定的企业（R-SUP-4）。',
    'Get Contingency': '查询应急处置事项',
    'One contingency item (R-SUP-4) and the gaps it still has.':
        '单个应急处置事项（R-SUP-4）及其尚未覆盖的缺口。',
    'An institution requested, or opened, an account for a distributor (R-SUP-2).':
        '医疗机构已为某配送企业申请或开立账户（R-SUP-2）。',
    'default: now': '默认：当前时间',
    'An enterprise chooses a distributor for one of its products, per institution or '
    'per\nregion, on ``[valid_from, valid_until)`` (R-SUP-1). The enterprise is the caller.':
        '企业为其某个产品选定配送企业，按医疗机构或按地区，有效期为 ``[valid_from, valid_until)'
        '``（R-SUP-1）。企业即调用方。',
    'pending orders this assignment routed at once': '该配送关系当即分配的待配送订单数',
    'Place a distributor on the violation list (违规名单, R-SUP-4): give exactly one of\n``'
    'until`` and ``years`` (calendar years in Asia/Shanghai).':
        '将配送企业列入违规名单（违规名单，R-SUP-4）：``until`` 和 ``years`` 须且只能提供一个（'
        '上海时间的自然年）。',
    'What barring did, at once (R-SUP-4).': '禁入当即产生的结果（R-SUP-4）。',
    'R-SUP-4: an enterprise that lost assignments to a barred distributor must assign '
    'another;\nopen until it does (every gap covered again).':
        'R-SUP-4：因配送企业被禁入而失去配送关系的企业须另行选定配送企业；在此之前事项保持开启'
        '（直至所有缺口重新覆盖）。',
    'nearest-rank 90th percentile': '最近秩第 90 百分位',
    'Delivery time (placed → fully delivered) per distributor and enterprise (R-SUP-3).':
        '按配送企业和生产企业统计的配送时长（下单 → 全部送达）（R-SUP-3）。',
    'Register a distribution company (配送企业).': '登记配送企业（配送企业）。',
    'standing qualification, untouched by bars': '固有资质，不受禁入影响',
    'None: not even requested': 'None：尚未申请',
    'An assigned institution–distributor pair without an opened account: followed up, '
    'never\na reason to refuse or delay supply (R-SUP-2, R-AGR-7).':
        '已建立配送关系但尚未开户的医疗机构–配送企业组合：供跟进，从不作为拒绝或延迟供应的理由'
        '（R-SUP-2、R-AGR-7）。',
    'An order as supply sees it: where it was routed, what was shipped and delivered.':
        '配送服务视角的订单：分配给谁、发货和送达情况。',
    'Pay': '付款',
    "Pay (part of) a payable: the institution its own, the agency the fund's "
    '(R-PAY-5).\nSend an Idempotency-Key: a retried request pays once.':
        '支付（部分）应付款：医疗机构支付本机构的，经办机构支付医保基金的（R-PAY-5）。请提供 Id'
        'empotency-Key：重试的请求只付款一次。',
    'List Payables': '应付款列表',
    'Payables by due date, as the caller may see them; ``format=csv|xlsx`` exports '
    'every\nmatching row (at most 100,000).':
        '调用方可查看的应付款，按到期时间排列；``format=csv|xlsx`` 导出全部匹配行（最多 100,000'
        ' 行）。',
    'a page as JSON, or with ``format=csv|xlsx`` every matching row as a file':
        'JSON 分页，或以 ``format=csv|xlsx`` 导出全部匹配行的文件',
    'Payables Ageing': '应付款账龄',
    'What is owed, by institution and age (not due, 0–30, 31–60, 61–90, > 90 days): a page\n'
    'of institutions (``next_cursor``), or the whole list as a file.':
        '按医疗机构和账龄统计的欠款（未到期、0–30、31–60、61–90、超过 90 天）：按医疗机构分页'
        '（``next_cursor``），或以文件导出全部。',
    'What is owed, one row per institution: a page, since it grows with the institutions.':
        '欠款，每个医疗机构一行：分页返回，因为行数随医疗机构增加。',
    'Get Payable': '查询应付款',
    'One payable: amount, paid, outstanding, deadline (R-PAY-1).':
        '单个应付款：金额、已付、未付、期限（R-PAY-1）。',
    'Disburse': '拨付',
    'The paying agency disburses (part of) an installment; send an Idempotency-Key.':
        '医保经办机构拨付（部分）一期预付款；请提供 Idempotency-Key。',
    'List Installments': '预付分期列表',
    "Installments by due date: an agency's to disburse, an institution's schedule.":
        '按到期时间排列的预付分期：经办机构待拨付的，医疗机构的预付计划。',
    'Prepayment Balances': '预付余额',
    'R-PAY-6: scheduled, disbursed, offset and outstanding, from the ledger, by institution,\n'
    'program and agreement year: a page (``next_cursor``), or the whole list as a file.':
        'R-PAY-6：计划、已拨付、已冲抵和未冲抵金额，来自账本，按医疗机构、项目和协议年度排列：'
        '分页返回（``next_cursor``），或以文件导出全部。',
    'Prepayment balances, one per institution, program and agreement year: a page, since\n'
    'the list grows with the institutions.':
        '预付余额，每个医疗机构、项目和协议年度一行：分页返回，因为行数随医疗机构增加。',
    'Submit Fund Payments': '提交医保基金支付',
    'Months of fund payments per institution: offsets applied, net payable published; '
    'all\nor nothing; a month submitted again with the same amount changes nothing.':
        '各医疗机构的月度医保基金支付：应用冲抵并发布应付净额；全部成功或全部不提交；同一月份以'
        '相同金额再次提交不产生变化。',
    'Import Fund Payments': '导入医保基金支付',
    'The same as ``POST /v1/fund-payments`` from a CSV or XLSX file '
    '(columns\ninstitution_id, month, amount): every bad row is named and nothing is '
    'imported.':
        '与 ``POST /v1/fund-payments`` 相同，数据来自 CSV 或 XLSX 文件（列 institution_id、mont'
        'h、amount）：逐行指出错误，不导入任何内容。',
    "Invalid request: every invalid field is named in 'errors'":
        "请求无效：'errors' 中列出每个无效字段",
    'prepayment outstanding: disbursed − offset (R-PAY-6)':
        '未冲抵预付款：已拨付 − 已冲抵（R-PAY-6）',
    'Body of ``POST /v1/schedules/{schedule_id}/installments/{seq}/disbursements``.':
        '``POST /v1/schedules/{schedule_id}/installments/{seq}/disbursements`` 的请求体。',
    'any day of the month; the month counts': '该月任意一天；以月份为准',
    "One month's fund payment to one institution (R-PAY-4).":
        '某月向某医疗机构的医保基金支付（R-PAY-4）。',
    'Body of ``POST /v1/payables/{payable_id}/payments`` (partial allowed).':
        '``POST /v1/payables/{payable_id}/payments`` 的请求体（允许部分支付）。',
    'File Record': '记录信用记录',
    "File a credit record (R-CRD-1); the subject's rating and measures follow (R-CRD-2/3).":
        '记录一条信用记录（R-CRD-1）；评价对象的评级和惩戒措施随之更新（R-CRD-2/3）。',
    'List Records': '信用记录列表',
    'Credit records, newest first, filtered by status, subject and region (R-CRD-1).':
        '信用记录，最新的在前，可按状态、评价对象和地区筛选（R-CRD-1）。',
    'Get Record': '查询信用记录',
    'One credit record with every step of its life (R-CRD-1/4).':
        '单条信用记录及其各个步骤（R-CRD-1/4）。',
    'Confirm': '确认',
    'Confirm a proposal (R-CRD-1): it counts from now.': '确认一条提议（R-CRD-1）：自此生效。',
    'Dismiss': '驳回',
    'Dismiss a proposed record (R-CRD-1): it never counts.':
        '驳回一条提议的记录（R-CRD-1）：永不生效。',
    'Apply Repair': '申请信用修复',
    'The enterprise or distributor applies for repair of its record (R-CRD-4).':
        '生产企业或配送企业为其信用记录申请修复（R-CRD-4）。',
    'Approve Repair': '批准信用修复',
    'Approve a pending repair (R-CRD-4): the record stops counting.':
        '批准待审核的信用修复（R-CRD-4）：该记录不再计入。',
    'Refuse Repair': '拒绝信用修复',
    'Refuse a pending repair (R-CRD-4); a new application must wait.':
        '拒绝待审核的信用修复（R-CRD-4）；重新申请须等待。',
    'Ratings': '信用评级',
    "The subject's rating per region with the measures in force (R-CRD-2/3).":
        '评价对象在各地区的评级及生效中的惩戒措施（R-CRD-2/3）。',
    'Sweep': '巡检',
    'Propose records for orders unfilled and supply risks left open too long (R-CRD-1).':
        '为长期未完成的订单和长期未解除的供应风险提议信用记录（R-CRD-1）。',
    'Backup Switch': '切换备选产品',
    "Switch an institution's volume of a failing product to a backup product (R-CRD-5).":
        '将某医疗机构某问题产品的用量切换到备选产品（R-CRD-5）。',
    'Emergency Supply': '应急供应',
    'Trigger emergency supply of a product for the region or some institutions\n(R-CRD-5).':
        '为地区或部分医疗机构启动某产品的应急供应（R-CRD-5）。',
    'Monthly Report': '月度报告',
    "The month's report as of its end, by event time (R-MON-1); JSON, CSV or XLSX.":
        '截至月末、按事件时间统计的月度报告（R-MON-1）；JSON、CSV 或 XLSX。',
    'Close Month': '关闭月份',
    'Close an ended month: its digest kept, ``MonthlyReportClosed`` published (R-MON-1).':
        '关闭已结束的月份：保存其摘要，发布 ``MonthlyReportClosed``（R-MON-1）。',
    'Assessment': '年度考核',
    "An institution's annual assessment, each part explained (R-MON-2).":
        '医疗机构的年度考核，逐项说明（R-MON-2）。',
    'Completion Risks': '完成风险',
    "The institution × product pairs projected below the profile's threshold; an "
    'unknown\nprogram is a 404 (the program in the path names the resource).':
        '预计完成进度低于政策配置阈值的医疗机构 × 产品组合；未知项目返回 404（路径中的项目即所'
        '请求的资源）。',
    'Public Ratings': '公开信用评级',
    'Ratings whose level carries public disclosure, with their measures in force.':
        '等级要求公开披露的评级及生效中的惩戒措施。',
    'Public Listings': '公开挂网产品',
    'Listed products and prices, open to the public (no token); cacheable with ETag.':
        '向公众公开的挂网产品和价格（无需令牌）；可通过 ETag 缓存。',
    'Public Execution': '公开执行情况',
    "A month's execution by region and product; no institution's own figures.":
        '某月按地区和产品的执行情况；不含单个医疗机构的数据。',
    'the failing enterprise': '问题企业',
    'the failing product': '问题产品',
    'the backup product (备选)': '备选产品（备选）',
    'null = all remaining volume': '为空表示全部剩余用量',
    'R-CRD-5: for a failure of quality or quantity, a regulator switched an '
    "institution's\nvolume of a product to a backup product (备选). Orders and supply act o"
    'n it.':
        'R-CRD-5：因质量或数量问题，监管方将某医疗机构某产品的用量切换到备选产品（备选）。订单'
        '和配送服务据此处理。',
    'the level confirmed; default: the one proposed': '确认的等级；默认为提议的等级',
    "the program whose profile's scheme rates the record; its region is the record's region":
        '以其政策配置的评价方案评定该记录的项目；其地区即记录的地区',
    'level code or name': '等级代码或名称',
    'products involved': '涉及的产品',
    'A regulator files a credit record (R-CRD-1): who, what, evidence, where, when.':
        '监管方记录信用记录（R-CRD-1）：对象、事实、证据、地点、时间。',
    'empty = the region': '为空表示整个地区',
    'R-CRD-5: a regulator triggered emergency supply of a product for the region (or for '
    'the\ninstitutions named). Supply acts on it.':
        'R-CRD-5：监管方为地区（或指定的医疗机构）启动了某产品的应急供应。配送服务据此处理。',
    'the Shanghai month, YYYY-MM': '上海时间的月份，YYYY-MM',
    'null = every region': '为空表示所有地区',
    "of the report's JSON: the same month gives the same hash":
        '报告 JSON 的哈希：同一月份得到相同的哈希',
    "R-MON-1: a month's monitoring report was closed (as of the month's end, by event "
    'time).':
        'R-MON-1：月度监测报告已关闭（截至月末，按事件时间统计）。',
    'An enterprise (or distributor) applies for credit repair of one of its records '
    '(R-CRD-4).':
        '生产企业（或配送企业）为其某条信用记录申请信用修复（R-CRD-4）。',
    "One step of a record's life: who decided what, when and why (R-CRD-4).":
        '信用记录的一个步骤：谁在何时以何理由作出了什么决定（R-CRD-4）。',
    'more than is outstanding (overpayment), or the ledger refuses the movement '
    '(ledger-limit)':
        '超过未付金额（overpayment），或账本拒绝此笔记账（ledger-limit）',
    "more than the installment's outstanding (over-disbursement), or the ledger refuses the "
    'movement (ledger-limit)':
        '超过该期未拨付金额（over-disbursement），或账本拒绝此笔记账（ledger-limit）',
    'a month submitted before with another amount (fund-payment-conflict), or the ledger '
    'refuses the movement (ledger-limit)':
        '该月此前已以不同金额提交（fund-payment-conflict），或账本拒绝此笔记账（ledger-limit）',
    "the record's state does not allow this now (the problem's type says why)":
        '信用记录当前状态不允许此操作（原因见问题类型）',
    'the report as JSON, or with ``format=csv|xlsx`` as a file':
        'JSON 格式的报告，或以 ``format=csv|xlsx`` 导出为文件',
}
