"""The whole system started by `eventstream up`: every order reaches its final state, once."""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from e2e_system import System, check_outcome, stream_message_count

from kit.testing.natscluster import NatsCluster
from kit.testing.postgres import running_postgres
from kit.testing.wait import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ORDERS = 200


def run_and_check(system: System, *, kill: bool = False) -> None:
    system.start()
    try:
        midway = threading.Event()
        killer = None
        if kill:
            def kill_twice() -> None:
                midway.wait(120)
                os.kill(system.child_pid("eventstoresvc"), signal.SIGKILL)
                time.sleep(1.0)
                os.kill(system.child_pid("payment"), signal.SIGKILL)

            killer = threading.Thread(target=kill_twice)
            killer.start()
        orders = system.place_many(ORDERS, concurrency=16, midway=midway)
        if killer is not None:
            killer.join()
        total = check_outcome(system, orders)
        nats_url = system.nats_url or f"nats://127.0.0.1:{system.nats_port}"
        assert stream_message_count(nats_url) == total, "the stream holds an event twice or misses one"
    finally:
        code = system.stop()
    assert code == 0, system.log()


def test_orders_reach_their_final_state_on_sqlite(tmp_path):
    run_and_check(System(tmp_path / "system"))


def test_kill_9_of_the_event_store_and_a_worker_loses_and_doubles_nothing(tmp_path):
    system = System(tmp_path / "system")
    run_and_check(system, kill=True)
    log = system.log(tail=None)
    assert "eventstoresvc exited with code -9; restarting" in log
    assert "payment exited with code -9; restarting" in log


def test_orders_reach_their_final_state_on_postgresql(tmp_path):
    with running_postgres() as (server, database):
        orders_db = server.create_database()
        run_and_check(System(tmp_path / "system", db_url=server.url(database),
                             orders_db_url=server.url(orders_db)))


def run_on_a_nats_cluster(tmp_path, at_midway, eventstores=1):
    """200 orders on a 3-node NATS cluster (stream replicas 3); ``at_midway(system, cluster)`` runs
    a quarter of the way through; every order must still end once, each event once in the stream."""
    cluster = NatsCluster(tmp_path / "nats")
    cluster.start()
    try:
        # The replicated stream first; `up` runs the bootstrap again, which leaves it as it is.
        bootstrap = subprocess.run(
            [sys.executable, "-m", "eventstream", "bootstrap", "--db-url", "",
             "--nats-url", cluster.url, "--stream-replicas", "3"],
            capture_output=True, text=True, timeout=60)
        assert bootstrap.returncode == 0, bootstrap.stdout + bootstrap.stderr
        system = System(tmp_path / "system", nats_url=cluster.url, eventstores=eventstores)
        system.start()
        try:
            midway = threading.Event()
            killer = threading.Thread(target=lambda: (midway.wait(120), at_midway(system, cluster)))
            killer.start()
            orders = system.place_many(ORDERS, concurrency=16, midway=midway)
            killer.join()
            total = check_outcome(system, orders)
            assert stream_message_count(cluster.url) == total
        finally:
            code = system.stop()
        assert code == 0, system.log()
    finally:
        cluster.stop()


def test_a_three_node_nats_cluster_survives_losing_a_node(tmp_path):
    run_on_a_nats_cluster(tmp_path, lambda system, cluster: cluster.kill(2))


def kill_the_leader_then_a_follower(system: System, midway: threading.Event) -> tuple[int, int]:
    """At ``midway`` SIGKILL the relay's leader, then, once another process leads, one follower."""
    midway.wait(120)
    leader = eventually(system.relay_leader, timeout=30)
    killed = system.eventstore_pid(leader)
    os.kill(killed, signal.SIGKILL)

    def successor() -> int | None:  # `up` restarts the killed replica: it may lead again, as a new process
        found = system.relay_leader()
        return found if found is not None and system.eventstore_pid(found) != killed else None

    now_leading = eventually(successor, timeout=30)
    follower = next(r for r in range(1, system.eventstores + 1) if r != now_leading)
    os.kill(system.eventstore_pid(follower), signal.SIGKILL)
    return leader, follower


def test_three_event_store_replicas_lose_the_relay_leader_and_a_follower_and_lose_nothing(tmp_path):
    with running_postgres() as (server, database):
        system = System(tmp_path / "system", db_url=server.url(database),
                        orders_db_url=server.url(server.create_database()), eventstores=3)
        system.start()
        try:
            midway = threading.Event()
            killed: list[tuple[int, int]] = []
            killer = threading.Thread(
                target=lambda: killed.append(kill_the_leader_then_a_follower(system, midway)))
            killer.start()
            orders = system.place_many(ORDERS, concurrency=16, midway=midway)
            killer.join()
            after = system.place_many(20, concurrency=4, first=ORDERS)  # after both kills: these complete too
            total = check_outcome(system, orders + after)
            assert stream_message_count(f"nats://127.0.0.1:{system.nats_port}") == total
        finally:
            code = system.stop()
        assert code == 0, system.log()
        leader, follower = killed[0]
        log = system.log(tail=None)
        assert f"eventstoresvc-{leader} exited with code -9; restarting" in log
        assert f"eventstoresvc-{follower} exited with code -9; restarting" in log


def test_the_relay_hand_over_survives_losing_a_nats_node_at_the_same_time(tmp_path):
    def kill_leader_and_node(system, cluster):
        leader = eventually(system.relay_leader, timeout=30)
        os.kill(system.eventstore_pid(leader), signal.SIGKILL)
        cluster.kill(2)

    run_on_a_nats_cluster(tmp_path, kill_leader_and_node, eventstores=3)
