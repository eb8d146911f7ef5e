"""kit.lifecycle: parts run until a signal, are drained, and one failure stops them all."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from kit.lifecycle import Served, run_until_signal


class Loop:
    """A Runnable that records when it started and returned."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = threading.Event()
        self.returned = False

    def run(self, stop: threading.Event) -> None:
        self.started.set()
        stop.wait()
        self.returned = True


def test_sigterm_stops_servers_and_loops_then_restores_the_handler() -> None:
    calls: list[str] = []
    loop = Loop("loop")
    previous = signal.getsignal(signal.SIGTERM)

    def send_sigterm_once_running() -> None:
        loop.started.wait(5)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=send_sigterm_once_running, daemon=True).start()
    run_until_signal([Served("server", lambda: calls.append("start"), lambda: calls.append("stop")), loop])

    assert calls == ["start", "stop"]
    assert loop.returned
    assert signal.getsignal(signal.SIGTERM) is previous


def test_a_server_that_cannot_start_stops_the_others_and_raises() -> None:
    loop = Loop("loop")

    def cannot_bind() -> None:
        loop.started.wait(5)
        raise OSError("address already in use")

    stopped: list[str] = []
    with pytest.raises(OSError, match="already in use"):
        run_until_signal([Served("server", cannot_bind, lambda: stopped.append("stop")), loop])
    assert loop.returned
    assert stopped == []  # never started, so never stopped


def test_a_stop_set_by_the_caller_drains_without_a_signal() -> None:
    stop = threading.Event()
    calls: list[str] = []

    def start() -> None:
        calls.append("start")
        stop.set()

    run_until_signal([Served("server", start, lambda: calls.append("stop"))], stop=stop)
    assert calls == ["start", "stop"]
