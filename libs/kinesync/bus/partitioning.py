"""Key → partition, identical for every topic so a station's topics are co-partitioned."""

from __future__ import annotations

from aiokafka.partitioner import murmur2


def partition_for(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2, positive, modulo), as the Java client and aiokafka use."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
