#!/usr/bin/env bash
# Runs every check and test on the real components. Sets up everything it needs:
# the Python environment, the Kafka broker's jars (Maven Central), PostgreSQL and Prometheus
# with promtool (Debian's packages, if missing), helm (built with Go, if missing). The tests
# start a throwaway broker, PostgreSQL and Prometheus on 127.0.0.1 and remove them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
scripts/bootstrap.sh
echo "== dependency audit (PyPI's advisories, scripts/audit.py)"; .venv/bin/python scripts/audit.py
.venv/bin/python -m services.devstack kafka-jars
.venv/bin/python -m services.devstack postgres-install
.venv/bin/python -m services.devstack helm-install
.venv/bin/python -m services.devstack prometheus-install
echo "== lint (ruff)";            .venv/bin/ruff check .
echo "== types (mypy --strict)";  .venv/bin/mypy
echo "== contracts up to date";   .venv/bin/python -m contracts.schemagen --check
echo "== dashboards up to date";  .venv/bin/python -m deploy.grafana --check
echo "== prometheus config and alert rules (promtool)"
promtool check config deploy/prometheus/prometheus.yml
promtool test rules deploy/prometheus/tests/*.yml
echo "== tests (unit, integration on PostgreSQL + Kafka, end to end)"
.venv/bin/python -m pytest -p no:cacheprovider "$@"
echo "== all checks passed in $(( $(date +%s) - started )) s"
