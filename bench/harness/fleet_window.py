"""The 200-machine bench's window samples (bench/appliance_capacity.py): what waits for the hub's
worker(s) at a moment, and how each recovery point's RPO splits into the gap between captures and the
point's latency, read from the bench database."""

from __future__ import annotations

from harness.report import summary


def count(database, sql: str, *params) -> int:
    return int(database.execute(sql, params).fetchone()[0])  # sum() answers a Decimal


# The broker's default queue: every task of the hub goes there (no routes are configured).
BROKER_QUEUE = "celery"


def backlog(database, broker, appliance_id) -> dict[str, int]:
    """What waits for the worker(s) right now: broker messages, items with an apply queued or leased,
    stored batches not yet applied."""
    items = database.execute(
        "SELECT count(*) FILTER (WHERE apply_lease_owner = '' AND apply_lease_until > now()), "
        "count(*) FILTER (WHERE apply_lease_owner <> '' AND apply_lease_until > now()) "
        "FROM replication_migrationitem WHERE appliance_id = %s",
        (appliance_id,),
    ).fetchone()
    return {
        "broker_messages": int(broker.llen(BROKER_QUEUE)),
        "items_apply_queued": int(items[0]),
        "items_apply_leased": int(items[1]),
        "batches_unapplied": count(
            database,
            "SELECT count(*) FROM replication_replicationbatch b JOIN replication_protecteddisk d "
            "ON d.id = b.disk_id JOIN replication_migrationitem i ON i.id = d.item_id "
            "WHERE i.appliance_id = %s AND b.applied_at IS NULL",
            appliance_id,
        ),
    }


def markers_stored(database, appliance_id) -> dict[tuple[str, int], float]:
    """(item, cycle) -> when the cycle's last marker was stored (epoch), for the markers still there: a
    cycle's batches are deleted once its point is recorded, so the loop below catches each while it can."""
    rows = database.execute(
        "SELECT d.item_id::text, b.cycle, extract(epoch FROM max(b.stored_at)) FROM replication_replicationbatch b "
        "JOIN replication_protecteddisk d ON d.id = b.disk_id JOIN replication_migrationitem i ON i.id = d.item_id "
        "WHERE i.appliance_id = %s AND b.marker IS NOT NULL GROUP BY d.item_id, b.cycle",
        (appliance_id,),
    ).fetchall()
    return {(row[0], int(row[1])): float(row[2]) for row in rows}


def rpo_parts(database, appliance_id, since: float, until: float, markers: dict[tuple[str, int], float]) -> dict:
    """Seconds, for the points recorded between since and until (epoch): each one's latency (recorded
    minus captured, the cycle's start: the agent's reading and sending, the hub's wait for an apply and
    the apply) and the gap since its item's previous capture (the cycle, or longer when one overran).
    Where the cycle's marker was seen stored (markers), the latency split there: the agent's part
    (captured to marker stored) and the hub's (marker stored to recorded). A delta cycle is applied only
    once its markers are stored, so the hub's part is its queue, apply and point; points recorded within
    a sampling interval of their marker are missed, so the hub's part seen leans long."""
    rows = database.execute(
        "SELECT item_id::text, cycle, extract(epoch FROM recorded_at), extract(epoch FROM captured_at),"
        " extract(epoch FROM captured_at - previous) FROM ("
        " SELECT p.item_id, p.cycle, p.recorded_at, p.captured_at,"
        " lag(p.captured_at) OVER (PARTITION BY p.item_id ORDER BY p.cycle) AS previous"
        " FROM replication_recoverypoint p JOIN replication_migrationitem i ON i.id = p.item_id"
        " WHERE i.appliance_id = %s) AS ordered "
        "WHERE recorded_at BETWEEN to_timestamp(%s) AND to_timestamp(%s)",
        (appliance_id, since, until),
    ).fetchall()
    latency = [float(row[2]) - float(row[3]) for row in rows]
    gaps = [float(row[4]) for row in rows if row[4] is not None]
    seen = [(row, markers[(row[0], int(row[1]))]) for row in rows if (row[0], int(row[1])) in markers]
    agent = [stored - float(row[3]) for row, stored in seen]
    hub = [float(row[2]) - stored for row, stored in seen]
    return {
        "points": len(rows),
        "latency_seconds": summary(latency) if latency else None,
        "capture_gap_seconds": summary(gaps) if gaps else None,
        "points_marker_seen": len(seen),
        "captured_to_marker_stored_seconds": summary(agent) if agent else None,
        "marker_stored_to_recorded_seconds": summary(hub) if hub else None,
    }


def spread(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)
    return {"min": ordered[0], "median": ordered[len(ordered) // 2], "max": ordered[-1]}


def rpo_parts_lines(parts: dict) -> list[str]:
    def figures(name: str) -> str:
        found = parts[name]
        return f"median {found['median']:.1f} s, p95 {found['p95']:.1f} s, max {found['max']:.1f} s" if found else "-"

    return [
        f"  {parts['points']} points recorded in the window: capture gap {figures('capture_gap_seconds')}; "
        f"latency (recorded - captured) {figures('latency_seconds')}",
        f"  of those, {parts['points_marker_seen']} with their marker seen stored: captured to marker stored "
        f"{figures('captured_to_marker_stored_seconds')}; marker stored to recorded "
        f"{figures('marker_stored_to_recorded_seconds')}",
    ]
