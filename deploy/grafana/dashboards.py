"""The five dashboards operators and regulators open (R-MON-3), with Chinese titles and the
English beside them. Every query reads metrics the services export (runtime/metrics.py,
services/<name>/telemetry.py, payments and monitoring) or the recording rules in
deploy/prometheus/rules/recording.yml. Money is exported in fen and shown in yuan (÷ 100).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    VariableOption,
    VariableRefresh,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="vbp-prometheus")
"""Provisioned by provisioning/datasources/vbp-prometheus.yaml."""
RATE = "$__rate_interval"
PROGRAM = 'program=~"$program"'
REGION = 'region=~"$region"'

Query = tuple[str, str]
"""(PromQL, legend)."""


def _targets(queries: Iterable[Query], *, table_format: bool = False
             ) -> list[prometheus.Dataquery]:
    targets = []
    for index, (expr, legend) in enumerate(queries):
        target = (prometheus.Dataquery().expr(expr).legend_format(legend)
                  .ref_id(chr(ord("A") + index)).datasource(DATASOURCE))
        if table_format:
            target = target.instant().format(PromQueryFormat.TABLE)
        targets.append(target)
    return targets


def series(title: str, *queries: Query, unit: str = "short", description: str = "",
           width: int = 12, height: int = 8) -> timeseries.Panel:
    panel = (timeseries.Panel().title(title).description(description).unit(unit)
             .datasource(DATASOURCE).span(width).height(height))
    for target in _targets(queries):
        panel = panel.with_target(target)
    return panel


def single(title: str, *queries: Query, unit: str = "short", description: str = "",
           width: int = 6, height: int = 5) -> stat.Panel:
    panel = (stat.Panel().title(title).description(description).unit(unit)
             .datasource(DATASOURCE).span(width).height(height))
    for target in _targets(queries):
        panel = panel.with_target(target.instant())
    return panel


def listing(title: str, *queries: Query, description: str = "", width: int = 12,
            height: int = 8) -> table.Panel:
    panel = (table.Panel().title(title).description(description).datasource(DATASOURCE)
             .span(width).height(height))
    for target in _targets(queries, table_format=True):
        panel = panel.with_target(target)
    return panel


def variable(name: str, label: str, metric: str) -> dashboard.QueryVariable:
    return (dashboard.QueryVariable(name).label(label).datasource(DATASOURCE)
            .query(f"label_values({metric}, {name})")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .include_all(True).all_value(".*").multi(True)
            .current(VariableOption(selected=True, text="All", value="$__all")))


def board(uid: str, title: str, description: str, tags: list[str]) -> dashboard.Dashboard:
    return (dashboard.Dashboard(title).uid(uid).description(description)
            .tags(["vbp", *tags]).timezone("Asia/Shanghai").refresh("30s")
            .time("now-6h", "now"))


def row(title: str) -> dashboard.Row:
    return dashboard.Row(title)


# ------------------------------------------------------------------------------ dashboards


def platform() -> dashboard.Dashboard:
    return (
        board("vbp-platform", "平台总览 Platform overview",
              "Every service's RED, Kafka consumers, outbox, dead letters, database pool, "
              "CPU and memory.", ["platform"])
        .with_row(row("服务 Services"))
        .with_panel(single("在线服务 Services up",
                           ('sum by (service) (up{job="vbp"})', "{{service}}"), width=12))
        .with_panel(single("5xx 比例 5xx share (5m)",
                           ("max(service:vbp_http_error_ratio:rate5m)", "worst service"),
                           unit="percentunit", width=12))
        .with_panel(series("请求速率 Requests per second",
                           ("service:vbp_http_requests:rate5m", "{{service}}"), unit="reqps"))
        .with_panel(series("错误比例 5xx share of requests",
                           ("service:vbp_http_error_ratio:rate5m", "{{service}}"),
                           unit="percentunit"))
        .with_panel(series("P99 延迟 p99 latency by service",
                           ("service:vbp_http_request_duration_seconds:p99_5m", "{{service}}"),
                           unit="s"))
        .with_panel(series("P99 延迟（按路由）p99 latency by route",
                           ("service_route:vbp_http_request_duration_seconds:p99_5m",
                            "{{service}} {{method}} {{route}}"), unit="s"))
        .with_panel(series("路由请求 Requests by route",
                           ("service_route:vbp_http_requests:rate5m",
                            "{{service}} {{method}} {{route}}"), unit="reqps", width=24))
        .with_row(row("Kafka 消费 Consumers"))
        .with_panel(series("消费延迟（按分区）Consumer lag by group and partition",
                           ("sum by (service, consumer, topic, partition) "
                            "(vbp_consumer_lag_messages)",
                            "{{consumer}} {{topic}}[{{partition}}]")))
        .with_panel(series("消费结果 Consumer events by outcome",
                           ("service_consumer:vbp_consumer_events:rate5m",
                            "{{consumer}} {{outcome}}"), unit="ops"))
        .with_panel(series("处理耗时 P99 Event handling p99",
                           ("histogram_quantile(0.99, sum by (service, consumer, le) "
                            f"(rate(vbp_consumer_handle_duration_seconds_bucket[{RATE}])))",
                            "{{consumer}}"), unit="s"))
        .with_panel(series("距上次拉取 Seconds since last poll",
                           ("time() - vbp_consumer_last_poll_timestamp_seconds",
                            "{{service}} {{consumer}}"), unit="s"))
        .with_row(row("发件箱与死信 Outbox and dead letters"))
        .with_panel(series("未发布事件 Outbox backlog",
                           ("vbp_outbox_backlog_events", "{{service}} {{instance}}"), width=8))
        .with_panel(series("最旧未发布 Oldest unpublished event age",
                           ("vbp_outbox_oldest_unpublished_age_seconds", "{{service}}"),
                           unit="s", width=8))
        .with_panel(series("发布速率 Events published",
                           (f"sum by (service, topic) (rate(vbp_outbox_published_total[{RATE}]))",
                            "{{topic}}"), unit="ops", width=8))
        .with_panel(series("发布失败 Relay publish failures",
                           (f"sum by (service) (rate(vbp_outbox_publish_failures_total[{RATE}]))",
                            "{{service}}"), unit="ops", width=8))
        .with_panel(series("死信（1小时）Dead letters (last hour)",
                           ("service_topic:vbp_dead_letters:increase1h", "{{service}} {{topic}}"),
                           width=8))
        .with_panel(series("合并提交 Requests per group commit (p50)",
                           ("histogram_quantile(0.5, sum by (service, le) "
                            f"(rate(vbp_group_commit_requests_bucket[{RATE}])))", "{{service}}"),
                           width=8))
        .with_row(row("进程与数据库 Processes and database"))
        .with_panel(series("CPU 使用 CPU",
                           (f'rate(process_cpu_seconds_total{{job="vbp"}}[{RATE}])',
                            "{{service}} {{role}} {{instance}}"), unit="percentunit", width=8))
        .with_panel(series("内存 Resident memory",
                           ('process_resident_memory_bytes{job="vbp"}',
                            "{{service}} {{role}} {{instance}}"), unit="bytes", width=8))
        .with_panel(series("连接池使用 Database pool use",
                           ("vbp_db_pool_checked_out_connections / vbp_db_pool_max_connections",
                            "{{service}} {{instance}}"), unit="percentunit", width=8))
        .with_panel(series("业务指标采样 Business metric sampling time",
                           ("vbp_telemetry_sample_duration_seconds", "{{service}}"), unit="s",
                           width=12))
        .with_panel(series("业务指标采样失败 Business metric sampling errors",
                           (f"sum by (service) (rate(vbp_telemetry_errors_total[{RATE}]))",
                            "{{service}}"), unit="ops", width=12))
    )


def programs() -> dashboard.Dashboard:
    return (
        board("vbp-programs", "项目执行 Program execution",
              "Agreement progress against the even line by region and product category "
              "(R-AGR-3, R-AGR-6), orders, pacing warnings, completion risk.", ["business"])
        .with_variable(variable("program", "项目 Program", "vbp_orders_agreement_units"))
        .with_variable(variable("region", "地区 Region", "vbp_orders_agreement_units"))
        .with_row(row("进度 Progress"))
        .with_panel(series("完成进度与均衡线 Progress against the even line",
                           ("program_region:vbp_orders_agreement_progress:ratio"
                            f"{{{PROGRAM},{REGION}}}", "{{program}} {{region}} progress"),
                           ("max by (program, region) "
                            f"(vbp_orders_agreement_even_line_ratio{{{PROGRAM},{REGION}}})",
                            "{{program}} {{region}} even line"), unit="percentunit"))
        .with_panel(series("落后均衡线 Behind the even line",
                           ("program_region:vbp_orders_agreement_behind_even_line:ratio"
                            f"{{{PROGRAM},{REGION}}}", "{{program}} {{region}}"),
                           unit="percentunit",
                           description="Even line minus progress; the alert fires above 25%."))
        .with_panel(series("分品类进度 Progress by product category",
                           (f"vbp_orders_agreement_progress_ratio{{{PROGRAM},{REGION}}}",
                            "{{program}} {{region}} {{category}}"), unit="percentunit"))
        .with_panel(listing("协议量与验收量 Agreement volume and units accepted",
                            (f"vbp_orders_agreement_units{{{PROGRAM},{REGION}}}", "agreed"),
                            (f"vbp_orders_agreement_accepted_units{{{PROGRAM},{REGION}}}",
                             "accepted")))
        .with_panel(series("完成风险 Completion risk items",
                           (f"vbp_monitoring_completion_risk_items{{{PROGRAM}}}", "{{program}}"),
                           description="From monitoring: institutions unlikely to complete "
                                       "their agreement volume."))
        .with_row(row("订单 Orders"))
        .with_panel(series("下单 / 验收 / 取消 Orders placed, accepted, cancelled",
                           (f"sum by (program) (increase(vbp_orders_placed_total{{{PROGRAM},"
                            f"{REGION}}}[1h]))", "{{program}} placed"),
                           (f"sum by (program) (increase(vbp_orders_accepted_total{{{PROGRAM},"
                            f"{REGION}}}[1h]))", "{{program}} accepted"),
                           (f"sum by (program) (increase(vbp_orders_cancelled_total{{{PROGRAM},"
                            f"{REGION}}}[1h]))", "{{program}} cancelled"),
                           description="Per hour."))
        .with_panel(series("下单与验收金额（元/日）Amounts placed and accepted (yuan per day)",
                           ("program_region:vbp_orders_placed_amount_fen:increase1d"
                            f"{{{PROGRAM},{REGION}}} / 100", "{{program}} {{region}} placed"),
                           ("program_region:vbp_orders_accepted_amount_fen:increase1d"
                            f"{{{PROGRAM},{REGION}}} / 100", "{{program}} {{region}} accepted"),
                           unit="currencyCNY"))
        .with_panel(series("在途订单 Open orders by status",
                           (f"sum by (program, status) (vbp_orders_open{{{PROGRAM},{REGION}}})",
                            "{{program}} {{status}}")))
        .with_panel(single("累计下单金额（元）Amount ordered to date (yuan)",
                           (f"sum(vbp_orders_placed_amount_fen_total{{{PROGRAM},{REGION}}})"
                            " / 100", "yuan"), unit="currencyCNY", width=12))
        .with_row(row("均衡采购 Pacing"))
        .with_panel(series("均衡采购预警（每日）Pacing warnings per day",
                           ("sum by (program, region, check) (increase("
                            f"vbp_orders_pacing_warnings_total{{{PROGRAM},{REGION}}}[1d]))",
                            "{{program}} {{region}} {{check}}")))
        .with_panel(listing("均衡采购预警累计 Pacing warnings to date",
                            ("sum by (program, region, check) "
                             f"(vbp_orders_pacing_warnings_total{{{PROGRAM},{REGION}}})",
                             "")))
        .with_row(row("目录 Catalog"))
        .with_panel(listing("项目 Programs", ("vbp_catalog_programs", ""), width=8))
        .with_panel(listing("挂网状态 Listings by status",
                            ("sum by (program, status, winning) "
                             f"(vbp_catalog_listings{{{PROGRAM}}})", ""), width=16))
    )


def supply() -> dashboard.Dashboard:
    return (
        board("vbp-supply", "供应配送 Supply",
              "Routing, delivery times by distributor (R-SUP-3), supply risks (R-SUP-4) "
              "and the violation list.", ["business"])
        .with_variable(variable("program", "项目 Program", "vbp_supply_orders_routed_total"))
        .with_variable(variable("region", "地区 Region", "vbp_supply_orders_routed_total"))
        .with_row(row("配送路由 Routing"))
        .with_panel(series("每小时路由订单 Orders routed per hour",
                           ("sum by (program, region) (increase(vbp_supply_orders_routed_total"
                            f"{{{PROGRAM},{REGION}}}[1h]))", "{{program}} {{region}}")))
        .with_panel(series("待路由订单 Orders waiting for a distributor",
                           (f"vbp_supply_orders_unrouted{{{PROGRAM},{REGION}}}",
                            "{{program}} {{region}}")))
        .with_row(row("配送时效 Delivery time"))
        .with_panel(series("配送时长 P50 / P90（按配送企业）Delivery time by distributor",
                           ("histogram_quantile(0.5, sum by (distributor, le) (increase("
                            f"vbp_supply_delivery_duration_seconds_bucket{{{PROGRAM},{REGION}}}"
                            "[1d])))", "{{distributor}} p50"),
                           ("distributor:vbp_supply_delivery_duration_seconds:p90_7d",
                            "{{distributor}} p90 (7 days)"), unit="s"))
        .with_panel(listing("配送单数（按配送企业）Orders delivered by distributor",
                            ("sum by (distributor) (vbp_supply_delivery_duration_seconds_count"
                             f"{{{PROGRAM},{REGION}}})", "")))
        .with_row(row("供应风险 Supply risks"))
        .with_panel(series("未解决供应风险 Open supply risks",
                           (f"sum by (program, region, reason) (vbp_supply_risks_open{{{PROGRAM},"
                            f"{REGION}}})", "{{program}} {{region}} {{reason}}")))
        .with_panel(series("最久未解决风险 Oldest open supply risk",
                           (f"vbp_supply_risks_oldest_open_age_seconds{{{PROGRAM},{REGION}}}",
                            "{{program}} {{region}}"), unit="s",
                           description="The alert fires after 3 days."))
        .with_panel(series("每日新增风险 Supply risks opened per day",
                           ("sum by (region, reason) (increase(vbp_supply_risks_opened_total"
                            f"{{{PROGRAM},{REGION}}}[1d]))", "{{region}} {{reason}}")))
        .with_panel(series("应急缺口 Contingency gaps open",
                           (f"vbp_supply_contingency_gaps_open{{{REGION}}}", "{{region}}")))
        .with_row(row("违规名单 Violation list"))
        .with_panel(listing("违规配送企业 Distributors on the violation list",
                            ("vbp_supply_distributor_barred == 1", ""), width=24))
    )


def money() -> dashboard.Dashboard:
    return (
        board("vbp-money", "资金结算 Money",
              "Settlements by age, overdue (R-PAY-1), prepayment schedule against "
              "disbursements (R-PAY-2, R-PAY-7). Exported in fen, shown in yuan.", ["business"])
        .with_variable(variable("program", "项目 Program",
                                "vbp_payments_payables_outstanding_fen"))
        .with_row(row("货款结算 Settlements"))
        .with_panel(series("未结货款（按账龄，元）Payables outstanding by age (yuan)",
                           (f"program:vbp_payments_payables_outstanding_fen:sum{{{PROGRAM}}}"
                            " / 100", "{{program}} {{age_bucket}}"), unit="currencyCNY"))
        .with_panel(series("逾期结算 Overdue settlements",
                           (f"sum by (program) (vbp_payments_payables_overdue{{{PROGRAM}}})",
                            "{{program}}")))
        .with_panel(series("每日新增与结清 Payables opened and paid per day",
                           ("sum by (program) (increase(vbp_payments_payables_opened_total"
                            f"{{{PROGRAM}}}[1d]))", "{{program}} opened"),
                           ("sum by (program) (increase(vbp_payments_payables_paid_total"
                            f"{{{PROGRAM}}}[1d]))", "{{program}} paid")))
        .with_panel(series("每日验收金额（元）Amount accepted per day (yuan)",
                           ("sum by (program) (program_region:vbp_orders_accepted_amount_fen:"
                            f"increase1d{{{PROGRAM}}}) / 100", "{{program}}"),
                           unit="currencyCNY",
                           description="Acceptance starts the settlement clock (R-PAY-1)."))
        .with_row(row("医保预付 Prepayment"))
        .with_panel(series("预付计划与已拨付（元）Prepayment scheduled and disbursed (yuan)",
                           ("sum by (program) (vbp_payments_prepayment_scheduled_fen"
                            f"{{{PROGRAM}}}) / 100", "{{program}} scheduled"),
                           ("sum by (program) (vbp_payments_prepayment_disbursed_fen_total"
                            f"{{{PROGRAM}}}) / 100", "{{program}} disbursed"),
                           unit="currencyCNY"))
        .with_panel(series("逾期未拨付 Prepayment installments overdue",
                           ("sum by (program) (vbp_payments_prepayment_installments_overdue"
                            f"{{{PROGRAM}}})", "{{program}}")))
    )


def credit() -> dashboard.Dashboard:
    return (
        board("vbp-credit", "信用评价 Credit",
              "Credit records and ratings (R-CRD-1, R-CRD-2), measures in force (R-CRD-3), "
              "and their effect: suspended listings, barred distributors.", ["business"])
        .with_row(row("信用记录 Records and ratings"))
        .with_panel(series("有效信用记录（按等级）Active credit records by level",
                           ("sum by (region, level) (vbp_monitoring_credit_records_active)",
                            "{{region}} {{level}}")))
        .with_panel(series("生效惩戒措施 Measures in force",
                           ("sum by (region, measure) (vbp_monitoring_credit_measures_in_force)",
                            "{{region}} {{measure}}")))
        .with_panel(single("待处理评定 Credit proposals open",
                           ("sum(vbp_monitoring_credit_proposals_open)", "open")))
        .with_row(row("措施影响 Effect of measures"))
        .with_panel(series("挂网暂停（累计）Listings suspended to date",
                           ("sum by (program) (vbp_catalog_listing_suspensions_total)",
                            "{{program}}")))
        .with_panel(single("当前暂停挂网 Listings suspended now",
                           ('sum(vbp_catalog_listings{status="suspended"}) or vector(0)',
                            "suspended")))
        .with_panel(single("违规配送企业 Distributors barred now",
                           ("sum(vbp_supply_distributor_barred) or vector(0)", "barred")))
    )


DASHBOARDS = {"platform.json": platform, "programs.json": programs, "supply.json": supply,
              "money.json": money, "credit.json": credit}


def render(builder: dashboard.Dashboard) -> str:
    return json.dumps(builder.build(), cls=JSONEncoder, indent=2, sort_keys=True,
                      ensure_ascii=False) + "\n"


def render_all() -> dict[str, str]:
    """File name → dashboard JSON, as written into ``OUT_DIR``."""
    return {name: render(make()) for name, make in DASHBOARDS.items()}
