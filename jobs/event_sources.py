"""Where the hub's events come from, for whoever delivers them out (the `events` app), without the
sources naming it.

Two kinds of source:
- `publish` announces one event as it happens (a job starting or ending). It sends the
  `event_published` signal synchronously, inside the caller's transaction, so the receiver's rows
  commit or roll back with the change. Receivers must only insert rows: never call out, never wait.
- A state source (`register_state_source`) is read periodically by the events app's watcher, which
  compares each resource's state with the last one it saw. It serves state that changes with time and
  no transaction (replication health, which turns Critical because nothing happened)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.dispatch import Signal

# Sent with `event`, a PublishedEvent.
event_published = Signal()


@dataclass(frozen=True)
class PublishedEvent:
    event_type: str  # "Microsoft.Migrate.JobSucceeded"
    subscription_id: str
    resource_group_name: str
    # The subject below the resource group's id ("replicationJobs/{id}"); the receiver makes it whole.
    subject: str
    data: dict = field(default_factory=dict)


def publish(*, event_type: str, subscription_id, resource_group_name: str, subject: str, data: dict) -> None:
    if not resource_group_name:
        return  # an event belongs to a resource group's scope; there is no subscriber to a subscription's jobs
    event_published.send(
        sender=PublishedEvent,
        event=PublishedEvent(event_type, str(subscription_id), resource_group_name, subject, data),
    )


@dataclass(frozen=True)
class ObservedState:
    """One resource's state as a state source sees it now."""

    subscription_id: str
    resource_group_name: str
    subject: str  # the resource's full ARM id
    created_at: datetime  # the resource's: one created after a subscription is news to it, one before is not
    values: dict  # {"migrationState": ..., "health": ...}: each key that changes makes an event
    data: dict  # what the event's data carries beside the old and new values


# (scopes, each a (subscription id, lower-case resource group name)) -> the states of the resources there.
StateSource = Callable[[set[tuple[str, str]]], Iterable[ObservedState]]
_state_sources: dict[str, StateSource] = {}


def register_state_source(name: str, source: StateSource) -> None:
    _state_sources[name] = source


def state_sources() -> dict[str, StateSource]:
    return dict(_state_sources)
