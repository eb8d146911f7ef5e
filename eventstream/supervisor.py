"""Run a set of child processes: start each until ready, restart crashes, stop in order.

The supervisor behind ``eventstream up``. Each child's output is copied line by line to our
stdout, prefixed with its name. A child that exits while the system runs is restarted with
exponential backoff (1 s, 2 s, 4 s ... capped), and the supervisor says so; a child that keeps
crashing keeps being retried at the cap. Stopping sends SIGTERM to each child in the order given
and waits for it (its own graceful shutdown: drain, flush) before moving to the next, with
SIGKILL as the last resort.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

Probe = Callable[[], bool]


@dataclass
class ChildSpec:
    """How to run one child: its command, environment, and how to tell that it is ready."""

    name: str
    args: Sequence[str]
    ready: Probe
    env: Mapping[str, str] = field(default_factory=dict)
    start_timeout: float = 60.0
    stop_timeout: float = 20.0


class StartupError(RuntimeError):
    """A child exited or did not become ready in time while the system was starting."""


class Child:
    """One running child process and its restart bookkeeping."""

    def __init__(self, spec: ChildSpec, output: IO[str]) -> None:
        self.spec = spec
        self.output = output
        self.process: subprocess.Popen[str] | None = None
        self.restarts = 0
        self.restart_at: float | None = None
        self.tail: list[str] = []

    def launch(self) -> None:
        """Start the process and a thread that copies its output."""
        env = {**os.environ, **self.spec.env, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            list(self.spec.args), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, text=True, bufsize=1, start_new_session=True,
        )
        threading.Thread(target=self._copy, args=(self.process,), daemon=True,
                         name=f"output-{self.spec.name}").start()

    def _copy(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        prefix = f"{self.spec.name:<14}| "
        for line in process.stdout:
            self.tail = [*self.tail[-19:], line.rstrip()]
            self.output.write(prefix + line)
            self.output.flush()

    @property
    def exit_code(self) -> int | None:
        """The exit code if the process has ended, else None."""
        return None if self.process is None else self.process.poll()

    def wait_ready(self) -> None:
        """Block until the readiness probe passes; StartupError if the child dies or times out."""
        deadline = time.monotonic() + self.spec.start_timeout
        while time.monotonic() < deadline:
            code = self.exit_code
            if code is not None:
                raise StartupError(f"{self.spec.name} exited with code {code} while starting"
                                   + self._last_words())
            try:
                if self.spec.ready():
                    return
            except Exception:  # a probe failing is just "not ready yet"
                pass
            time.sleep(0.1)
        raise StartupError(f"{self.spec.name} was not ready after {self.spec.start_timeout:.0f}s"
                           + self._last_words())

    def _last_words(self) -> str:
        return "".join(f"\n  {line}" for line in self.tail[-5:])

    def stop(self) -> None:
        """SIGTERM, wait up to ``stop_timeout``, then SIGKILL."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=self.spec.stop_timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


class Supervisor:
    """Starts children in order, keeps them running, stops them in a given order."""

    def __init__(self, *, output: IO[str] | None = None, max_backoff: float = 30.0,
                 say: Callable[[str], None] | None = None) -> None:
        self.output = output or sys.stdout
        self.max_backoff = max_backoff
        self.children: dict[str, Child] = {}
        self._say = say or (lambda message: print(message, flush=True))
        self._stopping = threading.Event()
        # Held while a child is relaunched, so stopping never runs between the decision to restart
        # a child and its launch (which would leave the new process running).
        self._restarting = threading.Lock()

    def start(self, spec: ChildSpec) -> Child:
        """Launch a child and wait until it is ready."""
        child = Child(spec, self.output)
        self.children[spec.name] = child
        child.launch()
        child.wait_ready()
        return child

    def run_once(self, spec: ChildSpec) -> None:
        """Run a one-shot child (such as a bootstrap) to completion; StartupError if it fails."""
        child = Child(spec, self.output)
        child.launch()
        assert child.process is not None
        try:
            code = child.process.wait(timeout=spec.start_timeout)
        except subprocess.TimeoutExpired:
            child.process.kill()
            raise StartupError(f"{spec.name} did not finish in {spec.start_timeout:.0f}s") from None
        time.sleep(0.05)  # let the copier print the last lines
        if code != 0:
            raise StartupError(f"{spec.name} failed with code {code}" + child._last_words())

    def watch(self, interval: float = 0.5) -> None:
        """Restart crashed children with backoff until ``stop_watching`` is called."""
        while not self._stopping.wait(interval):
            now = time.monotonic()
            for child in list(self.children.values()):
                if self._stopping.is_set():
                    return
                code = child.exit_code
                if code is None:
                    continue
                if child.restart_at is None:
                    delay = min(self.max_backoff, 2.0 ** child.restarts)
                    child.restart_at = now + delay
                    self._say(f"{child.spec.name} exited with code {code}; restarting in {delay:.0f}s")
                elif now >= child.restart_at:
                    with self._restarting:
                        if self._stopping.is_set():
                            return
                        child.restart_at = None
                        child.launch()
                        child.restarts += 1
                    self._say(f"{child.spec.name} restarted (restart #{child.restarts})")

    def stop_watching(self) -> None:
        """Make ``watch`` return; crashes are no longer restarted."""
        self._stopping.set()

    def stop_all(self, order: Sequence[str]) -> None:
        """Stop the named children in order, then any others."""
        self.stop_watching()
        with self._restarting:
            pass  # a relaunch under way has finished; no other one starts now
        names = [*order, *(n for n in self.children if n not in order)]
        for name in names:
            child = self.children.get(name)
            if child is not None:
                child.stop()
