import socket

import pytest

from citylake.ports import LOWEST, free_loopback_port

FIRST_EPHEMERAL = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])


def test_a_port_below_the_ephemeral_range_that_a_server_can_bind():
    port = free_loopback_port()
    assert LOWEST <= port < FIRST_EPHEMERAL
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))


def test_neither_a_bound_port_nor_one_handed_out_is_chosen():
    bound = free_loopback_port()
    left = free_loopback_port(taken={bound})
    with socket.socket() as server:
        server.bind(("127.0.0.1", bound))
        handed_out = set(range(LOWEST, FIRST_EPHEMERAL)) - {bound, left}
        assert free_loopback_port(taken=handed_out) == left
        with socket.socket() as other:
            other.bind(("127.0.0.1", left))
            with pytest.raises(RuntimeError, match="no free loopback port"):
                free_loopback_port(taken=handed_out)
