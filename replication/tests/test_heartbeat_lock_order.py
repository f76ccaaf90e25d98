"""Two heartbeats of one appliance at once (a retry overlapping a slow one, a restarted process server)
write the same servers' rows: the agents' connectivity (services.agents_report) and their problems
(fault_wire.record_agent_problems). Each locks the rows it writes in the servers' pk order, so neither
waits for a row the other holds while holding one the other waits for: no deadlock. (Before, the last
heartbeats' refresh was a plain UPDATE, in scan order, and the problems' SELECT FOR UPDATE in name order:
the second test saw about one deadlock every three rounds.)"""

from __future__ import annotations

import random
import re
import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from hub import clock
from replication import fault_wire, services
from replication.models import DiscoveredServer
from replication.tests.conftest import finalized_appliance, migration_project

SERVERS = 1000
# The old lock order deadlocked in about a third of rounds; the statement-shape test below holds the rule
# whatever the timing, so a few rounds here suffice (each costs about 2 s of the suite).
ROUNDS = 8
TABLE = DiscoveredServer._meta.db_table


def agent_statuses(*, connected: bool, problem: bool) -> list[dict]:
    problems = {"DiskReadErrors": {"disk": "disk0"}} if problem else {}
    return [
        {"machineId": f"m-{number}", "connected": connected, "passphraseCurrent": True, "problems": problems}
        for number in range(SERVERS)
    ]


def in_rounds(path, appliance, rounds, barrier, errors):
    """One heartbeat path (the agents' statuses of each round), each round in step with the other's, on
    its own connection."""
    try:
        for statuses in rounds:
            barrier.wait(timeout=30)
            try:
                path(appliance, statuses)
            except DatabaseError as error:
                errors.append(error)
    finally:
        connection.close()


def make_servers(project, appliance) -> None:
    now = clock.now()
    servers = [
        DiscoveredServer(
            project=project,
            appliance=appliance,
            machine_id=f"m-{number}",
            name=f"vm{number:03}",
            os_type="Linux",
            os_name="Ubuntu",
            cores=2,
            memory_mb=4096,
            disks=[],
            agent_last_heartbeat_at=now,
            discovered_at=now,
        )
        for number in range(SERVERS)
    ]
    # Stored in an order that is neither their names' nor their pks': a scan meets them in neither.
    random.Random(7).shuffle(servers)
    DiscoveredServer.objects.bulk_create(servers)


@pytest.mark.django_db
def test_every_statement_writing_several_servers_locks_them_in_pk_order(django_capture_on_commit_callbacks):
    """A deadlock needs two transactions to lock shared rows in different orders; this holds whatever
    the plans and the rows' places on disk: each multi-row lock is a SELECT FOR UPDATE ordered by pk, and
    each multi-row UPDATE names the pks so locked (a scan-ordered UPDATE by machine id would lock rows in
    the order it met them)."""
    project = migration_project(django_capture_on_commit_callbacks, "lock-shape")
    appliance = finalized_appliance(project)
    make_servers(project, appliance)
    with CaptureQueriesContext(connection) as captured:
        services.agents_report(appliance, agent_statuses(connected=False, problem=False))
        fault_wire.record_agent_problems(appliance, agent_statuses(connected=False, problem=True))
        services.agents_report(appliance, agent_statuses(connected=True, problem=True))
        clock.advance(timedelta(minutes=1))  # every connected agent's last heartbeat is refreshed
        services.agents_report(appliance, agent_statuses(connected=True, problem=True))
        fault_wire.record_agent_problems(appliance, agent_statuses(connected=True, problem=False))
    statements = [query["sql"] for query in captured.captured_queries if f'"{TABLE}"' in query["sql"]]
    locks = [sql for sql in statements if sql.endswith("FOR UPDATE")]
    updates = [sql for sql in statements if sql.startswith(f'UPDATE "{TABLE}"')]
    assert len(locks) == 5, "silent, problems, connected, refreshed, problems gone"
    # By the pk, named or as the first column of a pks-only SELECT.
    by_pk = re.compile(rf'^SELECT "{TABLE}"."id"[ ,].* ORDER BY (1|"{TABLE}"."id") ASC FOR UPDATE$')
    assert all(by_pk.match(sql) for sql in locks), locks
    assert len(updates) == 5
    assert all(re.search(rf'WHERE "{TABLE}"."id" IN \(', sql) for sql in updates), updates


@pytest.mark.django_db(transaction=True)
def test_two_heartbeats_at_once_write_the_same_servers_without_deadlock(django_capture_on_commit_callbacks):
    project = migration_project(django_capture_on_commit_callbacks, "lock-order")
    appliance = finalized_appliance(project)
    make_servers(project, appliance)
    # The agents stay connected: after each minute agents_report refreshes every one's last heartbeat,
    # while record_agent_problems adds or clears every one's problem.
    connected = [agent_statuses(connected=True, problem=False)] * ROUNDS
    flapping = [agent_statuses(connected=True, problem=number % 2 == 0) for number in range(ROUNDS)]
    barrier = threading.Barrier(2, action=lambda: clock.advance(timedelta(minutes=1)))
    errors: list = []
    threads = [
        threading.Thread(target=in_rounds, args=(path, appliance, rounds, barrier, errors))
        for path, rounds in ((services.agents_report, connected), (fault_wire.record_agent_problems, flapping))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
