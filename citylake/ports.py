"""Loopback ports for the servers citylake starts beside itself (the departments' PostgreSQL,
MinIO, Airflow, a Spark master) when a test or a benchmark runs several stacks on one machine."""

from __future__ import annotations

import random
import socket
from collections.abc import Container
from pathlib import Path

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST = 20000


def free_loopback_port(taken: Container[int] = ()) -> int:
    """A port free on 127.0.0.1 now, chosen at random between 20000 and the start of the kernel's
    ephemeral range: no outgoing connection and no bind to port 0 (Spark's block manager, py4j,
    curl) can take it between now and the server's start, as one from the ephemeral range can.
    ``taken``: ports already handed out that are not bound yet."""
    first_ephemeral = int(EPHEMERAL_RANGE.read_text().split()[0])
    candidates = range(LOWEST, first_ephemeral)
    for port in random.Random().sample(candidates, len(candidates)):
        if port in taken:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free loopback port between {LOWEST} and the ephemeral range")
