"""The failed-attempt table: bounded, and IPv6 clients counted per /64."""

from __future__ import annotations

from ccr.server.throttle import AuthThrottle, client_address


def test_the_table_is_bounded_and_ipv6_counts_per_block():
    now = [0.0]
    throttle = AuthThrottle(clock=lambda: now[0])
    for i in range(AuthThrottle.MAX_CLIENTS * 2):
        throttle.failed(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}", "/api/config")
    assert len(throttle) == AuthThrottle.MAX_CLIENTS
    assert client_address("2001:db8:1:2:aaaa::1") == client_address("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert client_address("::ffff:192.0.2.7") == "192.0.2.7"
    waits = [throttle.failed(f"2001:db8:1:2::{i}", "/v1/messages") for i in range(AuthThrottle.BURST + 1)]
    assert waits[:-1] == [None] * AuthThrottle.BURST and waits[-1] is not None and waits[-1] > 0
    now[0] += 10  # refills
    assert throttle.failed("2001:db8:1:2::99", "/v1/messages") is None
