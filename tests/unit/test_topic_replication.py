"""Topic replication from settings (issue #18): replication 3 and ``min.insync.replicas`` 2 on a
cluster of three or more brokers, capped where the cluster is smaller."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.devstack.kafka import KafkaNode
from services.runtime.kafka import replication_for
from services.runtime.settings import Settings


def test_the_settings_apply_on_a_cluster_of_three_or_more() -> None:
    assert replication_for(3, 3, 2) == (3, 2)
    assert replication_for(5, 3, 2) == (3, 2)


def test_a_single_broker_still_gets_its_topics() -> None:
    assert replication_for(1, 3, 2) == (1, 1)
    assert replication_for(2, 3, 2) == (2, 2)


def test_the_minimum_in_sync_is_never_above_the_replicas() -> None:
    assert replication_for(3, 2, 3) == (2, 2)
    assert replication_for(3, 1, 1) == (1, 1)
    assert replication_for(0, 1, 1) == (1, 1)


def test_the_settings_default_to_one_and_read_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert (Settings().kafka_replication_factor, Settings().kafka_min_insync_replicas) == (1, 1)
    monkeypatch.setenv("VBP_KAFKA_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("VBP_KAFKA_MIN_INSYNC_REPLICAS", "2")
    assert (Settings().kafka_replication_factor, Settings().kafka_min_insync_replicas) == (3, 2)


def test_a_cluster_node_lists_every_voter_and_replicates_internal_topics() -> None:
    node = KafkaNode(Path("/nonexistent"), Path("/nonexistent/node-2"), node_id=2,
                     cluster_id="abc", port=9001, controller_port=9101,
                     voters="1@127.0.0.1:9100,2@127.0.0.1:9101,3@127.0.0.1:9102",
                     replicas=3, min_insync=2)
    props = node.server_properties()
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"].count("@") == 3
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9001,CONTROLLER://127.0.0.1:9101"
    assert props["default.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["offsets.topic.replication.factor"] == "3"
