"""Grafana dashboards as code (grafana-foundation-sdk), for operators and regulators (R-MON-3).

``python -m deploy.grafana`` (``make dashboards``) writes them as JSON into
``deploy/grafana/dashboards/``; ``--check`` fails when the committed JSON is not what the code
generates. ``provisioning/`` tells a Grafana where to find them and the Prometheus datasource.
"""
