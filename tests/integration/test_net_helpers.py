import socket

from kit.testing.net import free_port, free_port_block


def test_a_free_block_is_bindable_and_below_the_ephemeral_range():
    first = free_port_block(4)
    assert first + 3 < 32768
    for port in range(first, first + 4):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_free_port_is_one_port_of_a_block():
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))
