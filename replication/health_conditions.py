"""The conditions replication's health rules are made of, and the rule they share (HealthRule).

Each condition is declared once, as data on its rule, and gives both forms the hub needs: `holds(item,
now)` for one loaded item (the ARM API and the blades show each error's details) and `q(now, policies)`
for a queryset of a project's items (Replicating machines filters, sorts and counts 10,000 servers by
health in SQL). Field paths are ORM paths from the item ("server__agent_connected"). The rules are in
replication.health (the hub's own) and replication.fault_health (injected faults')."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q

from replication.models import MigrationItem, MigrationState

ACTIVE_STATES = (MigrationState.INITIAL_SEEDING_IN_PROGRESS, MigrationState.REPLICATING)

NEVER = Q(pk__in=[])  # a condition no row meets: the start of an "any of" built in a loop


def read_path(item, path: str):
    value = item
    for name in path.split("__"):
        value = getattr(value, name)
    return value


@dataclass(frozen=True)
class IsFalse:
    path: str

    def holds(self, item, now) -> bool:
        return not read_path(item, self.path)

    def q(self, now, policies) -> Q:
        return Q(**{self.path: False})


@dataclass(frozen=True)
class Silent:
    """The first set moment of `paths` is older than `limit`; with none set, the rule holds only when
    `missing_counts` (an agent that never sent a heartbeat is silent; an item with no recovery point
    yet has no RPO)."""

    paths: tuple[str, ...]
    limit: timedelta
    missing_counts: bool = True

    def holds(self, item, now) -> bool:
        moment = next((m for m in (read_path(item, path) for path in self.paths) if m is not None), None)
        return self.missing_counts if moment is None else now - moment > self.limit

    def q(self, now, policies) -> Q:
        condition, earlier_unset = NEVER, {}
        for path in self.paths:
            condition |= Q(**earlier_unset, **{f"{path}__lt": now - self.limit})
            earlier_unset[f"{path}__isnull"] = True
        return condition | Q(**earlier_unset) if self.missing_counts else condition


@dataclass(frozen=True)
class PastRpoThreshold:
    """The latest recovery point is older than the item's policy's RPO threshold (none: no RPO yet)."""

    def holds(self, item, now) -> bool:
        point_at = item.last_recovery_point_at
        return point_at is not None and now - point_at > timedelta(minutes=item.policy.rpo_threshold_minutes)

    def q(self, now, policies) -> Q:
        # Each policy has its own threshold; a project has one or a few policies.
        late = NEVER
        for policy in policies:
            cut = now - timedelta(minutes=policy.rpo_threshold_minutes)
            late |= Q(policy=policy, last_recovery_point_at__lt=cut)
        return late


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple

    def holds(self, item, now) -> bool:
        return any(condition.holds(item, now) for condition in self.conditions)

    def q(self, now, policies) -> Q:
        condition = NEVER
        for part in self.conditions:
            condition |= part.q(now, policies)
        return condition


@dataclass(frozen=True)
class SilentBetween:
    """`path`'s moment is older than `low` but not older than `high` (None: no upper bound); unset never."""

    path: str
    low: timedelta
    high: timedelta | None = None

    def holds(self, item, now) -> bool:
        moment = read_path(item, self.path)
        return moment is not None and now - moment > self.low and (self.high is None or now - moment <= self.high)

    def q(self, now, policies) -> Q:
        older = Q(**{f"{self.path}__lt": now - self.low})
        return older if self.high is None else older & Q(**{f"{self.path}__gte": now - self.high})


@dataclass(frozen=True)
class HasProblem:
    """The process reported this problem code (`path`: the JSON field of problems, from the item)."""

    path: str
    code: str

    def holds(self, item, now) -> bool:
        return self.code in (read_path(item, self.path) or {})

    def q(self, now, policies) -> Q:
        return Q(**{f"{self.path}__has_key": self.code})


class HealthRule:
    code: str
    level: str  # "Error" or "Warning": see HEALTH_OF_LEVEL
    states: tuple[str, ...] = ACTIVE_STATES  # the migration states in which the rule is checked
    condition: IsFalse | Silent | PastRpoThreshold | AnyOf | SilentBetween | HasProblem  # when the item has the error

    def errors(self, item: MigrationItem, disks, now) -> list[dict]:
        """The rule's errors on one item (its included disks given), in ASR's HealthError shape."""
        return [self.error_of(item, now)] if self.condition.holds(item, now) else []

    def where(self, now, policies) -> Q:
        """The same condition for any item of a project with these replication policies."""
        return self.condition.q(now, policies)

    def error_of(self, item: MigrationItem, now) -> dict:
        raise NotImplementedError

    def error(self, summary: str, causes: str, action: str, since, entity: str) -> dict:
        """An ASR HealthError."""
        return {
            "errorSource": "ServerMigration",
            "errorType": "ReplicationHealth",
            "errorLevel": self.level,
            "errorCategory": "Replication",
            "errorCode": self.code,
            "summaryMessage": summary,
            "errorMessage": summary,
            "possibleCauses": causes,
            "recommendedAction": action,
            "creationTimeUtc": since.isoformat() if since else None,
            "entityId": entity,
            "customerResolvability": "Allowed",
            "innerHealthErrors": [],
        }
