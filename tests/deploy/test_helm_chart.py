"""The Helm chart in deploy/helm/vbp, rendered and linted by the real helm: every topic of the
contracts' registry has a KafkaTopic (and its dead-letter topic), every setting the services
read is set, every Deployment has probes and resource limits, the engines come from Strimzi and
CloudNativePG."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts.registry import TOPICS, dead_letter_topic
from services.devstack.helm import ensure_helm
from services.launcher import SERVICES
from services.runtime.settings import Settings

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "vbp"
ROLES = ("api", "worker")


def _helm(*args: str) -> str:
    result = subprocess.run([str(ensure_helm()), *args], capture_output=True, text=True,
                            check=False, timeout=120)
    assert result.returncode == 0, f"helm {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _render(*sets: str) -> list[dict[str, Any]]:
    args = ["template", "vbp", str(CHART)]
    for s in sets:
        args += ["--set", s]
    return [doc for doc in yaml.safe_load_all(_helm(*args)) if doc]


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    return _render()


def _of(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def _containers(manifests: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for kind in ("Deployment", "StatefulSet", "Job"):
        for name, m in _of(manifests, kind).items():
            for c in m["spec"]["template"]["spec"]["containers"]:
                yield name, c


def test_the_chart_lints() -> None:
    out = _helm("lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in out


def test_every_topic_of_the_registry_has_a_kafka_topic(manifests: list[dict[str, Any]]) -> None:
    topics = {m["spec"]["topicName"]: m["spec"] for m in manifests if m["kind"] == "KafkaTopic"}
    for topic in TOPICS:
        for name in (topic.name, dead_letter_topic(topic.name)):
            assert name in topics, f"no KafkaTopic for {name}"
            spec = topics[name]
            assert spec["partitions"] == topic.partitions, name
            assert spec["replicas"] == 3, name
            assert spec["config"]["min.insync.replicas"] == 2, name
    assert set(topics) == {n for t in TOPICS for n in (t.name, dead_letter_topic(t.name))}


def test_kafka_is_a_three_broker_kraft_cluster_from_strimzi(
        manifests: list[dict[str, Any]]) -> None:
    (kafka,) = _of(manifests, "Kafka").values()
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1beta2"
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    config = kafka["spec"]["kafka"]["config"]
    assert config["min.insync.replicas"] == 2 and config["default.replication.factor"] == 3
    assert config["auto.create.topics.enable"] is False
    (pool,) = _of(manifests, "KafkaNodePool").values()
    assert pool["spec"]["replicas"] == 3
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}


def test_each_service_has_its_own_replicated_postgres(manifests: list[dict[str, Any]]) -> None:
    clusters = _of(manifests, "Cluster")
    assert set(clusters) == {f"vbp-{s}-db" for s in SERVICES}
    for name, cluster in clusters.items():
        assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
        assert cluster["spec"]["instances"] == 3, name
        assert cluster["spec"]["postgresql"]["synchronous"]["number"] >= 1, name


def test_each_service_runs_api_and_worker_with_probes_limits_hpa_and_pdb(
        manifests: list[dict[str, Any]]) -> None:
    deployments = _of(manifests, "Deployment") | _of(manifests, "StatefulSet")
    hpas = _of(manifests, "HorizontalPodAutoscaler")
    pdbs = _of(manifests, "PodDisruptionBudget")
    services = _of(manifests, "Service")
    for service in SERVICES:
        for role in ROLES:
            name = f"vbp-{service}-{role}"
            assert name in deployments and name in pdbs and name in services, name
            (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
            assert container["args"][:2] == ["serve", service]
            assert container["args"][-2:] == ["--role", role]
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
            assert container["startupProbe"]["httpGet"]["path"] == "/healthz"
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), (name, kind)
        hpa = hpas[f"vbp-{service}-api"]
        assert hpa["spec"]["scaleTargetRef"]["name"] == f"vbp-{service}-api"
        assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert set(deployments) == {f"vbp-{s}-{r}" for s in SERVICES for r in ROLES}
    assert set(_of(manifests, "StatefulSet")) == {f"vbp-{s}-worker" for s in SERVICES}


def test_workers_join_their_groups_as_static_members_under_their_pod_names(
        manifests: list[dict[str, Any]]) -> None:
    for name, container in _containers(manifests):
        (env,) = [e for e in container["env"] if e["name"] == "VBP_CONSUMER_INSTANCE_ID"]
        if name.endswith("-worker"):
            assert env["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name", name
        else:
            assert env["value"] == "", name


def _env_names(manifests: list[dict[str, Any]], container: dict[str, Any]) -> set[str]:
    names = {e["name"] for e in container.get("env", [])}
    configmaps = _of(manifests, "ConfigMap")
    for source in container.get("envFrom", []):
        names |= set(configmaps[source["configMapRef"]["name"]]["data"])
    return names


def _expected_env(service: str) -> set[str]:
    """The variable of every setting the services read (services/runtime/settings.py)."""
    special = {
        "service": None,  # `vbp serve SERVICE` names it
        "database_url": f"VBP_{service.upper()}_DATABASE_URL",
        "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
        # the accelerated clock of `vbp simulate` (docs/simulation.md): a deployment runs on
        # the system clock, so the chart leaves them unset on purpose
        "clock_epoch_sim": None, "clock_epoch_wall": None, "clock_rate": None,
    }
    names = {special.get(field, f"VBP_{field.upper()}") for field in Settings.model_fields}
    return {n for n in names if n is not None}


def test_every_setting_the_services_read_is_set(manifests: list[dict[str, Any]]) -> None:
    checked = 0
    for name, container in _containers(manifests):
        service = next(s for s in SERVICES if name.startswith(f"vbp-{s}-"))
        missing = _expected_env(service) - _env_names(manifests, container)
        assert not missing, f"{name}: settings not set: {sorted(missing)}"
        checked += 1
    assert checked == len(SERVICES) * 3  # api, worker, migrate job


def test_migrations_run_as_a_hook_job(manifests: list[dict[str, Any]]) -> None:
    jobs = _of(manifests, "Job")
    for service in SERVICES:
        job = jobs[f"vbp-{service}-migrate"]
        assert "pre-upgrade" in job["metadata"]["annotations"]["helm.sh/hook"]
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["vbp", "migrate", service]


def test_the_database_url_comes_from_the_operator_secret(
        manifests: list[dict[str, Any]]) -> None:
    deployment = _of(manifests, "Deployment")["vbp-orders-api"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "vbp-orders-db-app"
    assert env["VBP_ORDERS_DATABASE_URL"]["value"].startswith(
        "postgresql+asyncpg://$(DB_USER):$(DB_PASSWORD)@vbp-orders-db-rw:5432/")
    assert env["KAFKA_BOOTSTRAP_SERVERS"]["value"] == "vbp-kafka-kafka-bootstrap:9092"


def test_existing_engines_instead_of_operators() -> None:
    manifests = _render("kafka.create=false", "kafka.bootstrapServers=kafka-0.example:9092",
                        "postgres.create=false")
    kinds = {m["kind"] for m in manifests}
    assert not kinds & {"Kafka", "KafkaNodePool", "KafkaTopic", "Cluster"}
    (container,) = _of(manifests, "StatefulSet")["vbp-supply-worker"]["spec"]["template"][
        "spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["VBP_SUPPLY_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "vbp-supply-db", "key": "url"}
    assert env["KAFKA_BOOTSTRAP_SERVERS"]["value"] == "kafka-0.example:9092"
