.PHONY: run test test-cluster test-long lint bench contracts dashboards prometheus simulate chaos

run:            ## start Kafka and the five services (Ctrl-C stops everything)
	scripts/run.sh

test:           ## set everything up, then lint, type-check and run every test
	scripts/test.sh

test-cluster:   ## issue #18: Kafka cluster, PostgreSQL failover (long; not in `make test`)
	scripts/test-cluster.sh

lint:
	scripts/bootstrap.sh && .venv/bin/ruff check . && .venv/bin/mypy

contracts:      ## regenerate JSON Schemas and the AsyncAPI document
	scripts/bootstrap.sh && .venv/bin/python -m contracts.schemagen

dashboards:     ## regenerate the Grafana dashboards' JSON from deploy/grafana (code)
	scripts/bootstrap.sh && .venv/bin/python -m deploy.grafana

prometheus:     ## Prometheus on 127.0.0.1:9090 scraping the services `make run` started
	scripts/bootstrap.sh && .venv/bin/python -m services.devstack prometheus-install
	.venv/bin/python -m services.devstack prometheus --data-dir var/prometheus

bench:          ## benchmarks: each script's figures, then `vbp bench`'s table against raw baselines
	scripts/bootstrap.sh
	.venv/bin/python bench/catalog.py
	.venv/bin/python bench/orders.py --split
	.venv/bin/python bench/supply.py
	.venv/bin/python bench/payments.py
	.venv/bin/python bench/monitoring.py
	.venv/bin/vbp bench

test-long:      ## issue #19: `vbp bench --quick` (tests/long; not in `make test`; the short chaos run is in tests/e2e)
	scripts/bootstrap.sh && .venv/bin/python -m services.devstack kafka-jars && \
	.venv/bin/python -m services.devstack postgres-install && \
	.venv/bin/python -m pytest -p no:cacheprovider -o addopts="" tests/long

simulate:       ## issue #19: an agreement year of a 2,000-institution province (docs/simulation.md)
	scripts/bootstrap.sh && .venv/bin/vbp simulate --seed 1

chaos:          ## issue #19: the simulation under SIGKILLs and restarts for 10 minutes, then the invariants
	scripts/bootstrap.sh && .venv/bin/vbp chaos --seed 1 --minutes 10 --time-limit 2700
