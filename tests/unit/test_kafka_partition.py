"""The relay's own key partitioner must give every key the partition Kafka's default
partitioner (aiokafka's, the Java client's) gives it: per-key order across producers."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2

from services.runtime.kafka import murmur2, partition_of


def test_murmur2_is_kafkas_for_every_length_and_byte() -> None:
    rng = random.Random(19)
    for length in range(0, 70):
        for _ in range(30):
            data = bytes(rng.randrange(256) for _ in range(length))
            assert murmur2(data) == aiokafka_murmur2(data), data


def test_known_values_from_the_java_client() -> None:
    # org.apache.kafka.common.utils.UtilsTest.testMurmur2 (as signed 32-bit ints)
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
             b"a-little-bit-longer-string": -1486304829,
             b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
             bytes([ord("a"), ord("b"), ord("c")]): 479470107}
    for data, signed in cases.items():
        assert murmur2(data) == signed & 0xFFFFFFFF, data


def test_partition_is_the_default_partitioners() -> None:
    default = DefaultPartitioner()
    keys = [f"ORD-{i:07d}".encode() for i in range(2000)] + [
        "医院-重庆-订单".encode(), b"", b"x"]
    for n in (1, 3, 4, 12):
        parts = list(range(n))
        for key in keys:
            assert partition_of(key, n) == default(key, parts, parts), (key, n)


def test_a_wrong_hash_would_be_caught() -> None:
    assert murmur2(b"foobar") != murmur2(b"foobaz")
    assert {partition_of(f"k{i}".encode(), 4) for i in range(100)} == {0, 1, 2, 3}
