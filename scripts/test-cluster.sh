#!/usr/bin/env bash
# The cluster tests of issue #18 (minutes, both cores): a three-broker KRaft Kafka cluster with
# a broker killed, a PostgreSQL primary killed and its synchronous standby promoted, a supply worker
# killed and replaced (static and dynamic membership); the real services over HTTP. Real
# processes on 127.0.0.1, removed at the end. Figures are printed (-s).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
.venv/bin/python -m services.devstack kafka-jars
.venv/bin/python -m services.devstack postgres-install
.venv/bin/python -m pytest -p no:cacheprovider -o addopts="" -s tests/cluster "$@"
