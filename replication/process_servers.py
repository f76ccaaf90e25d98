"""Scale-out process servers (`setup --scale-out`, Azure's answer to an appliance over capacity).

A scale-out process server is an Appliance row with `scale_out_of` set: it registers with the project's
key like an appliance, heartbeats and uploads batches with its own credential, and replicates the
items whose `appliance` it is (the Replicate wizard's "Process Server", the API's processServerId).
Agents still register and heartbeat with their configuration server, which learns from the hub, per
item, the process server's address and a batch token; the agent sends that item's batches there,
and the scale-out process server, which has no agent credentials, accepts a batch by that token."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.db import transaction

from hub.arm.errors import ArmError
from replication import services, uploads
from replication.keys import registration_key_verify
from replication.models import Appliance


def batch_token(item_id) -> str:
    """The token a scale-out process server accepts an item's batches by: derived, so nothing is stored,
    and known only to the hub, the item's process server and its agent."""
    return hmac.new(settings.SECRET_KEY.encode(), f"scale-out-batches:{item_id}".encode(), hashlib.sha256).hexdigest()


def process_server_url(process_server: Appliance) -> str:
    """Where agents reach a process server: its listening address, or its first IP address when it
    listens on every interface."""
    host, _, port = process_server.listen.rpartition(":")
    if host in ("", "0.0.0.0", "::", "[::]"):  # noqa: S104 (an address read, not one bound)
        host = next(iter(process_server.ip_addresses or []), "") or process_server.fqdn
    return f"http://{host}:{port}"


def heartbeat_instructions(appliance: Appliance) -> list[dict]:
    """What an appliance's heartbeat answer lists (uploads.replication_instructions), for scale-out:
    - a configuration server also gets the items of its scale-out process servers, each saying which
      process server takes its batches and with what token, so its agents send them there;
    - a scale-out process server gets its own items with their tokens, to accept their batches."""
    entries = uploads.replication_instructions(appliance)
    if appliance.scale_out_of_id:
        return [{**entry, "batchToken": batch_token(entry["itemId"])} for entry in entries]
    for process_server in appliance.scale_out_process_servers.filter(state=Appliance.State.FINALIZED):
        url = process_server_url(process_server)
        for entry in uploads.replication_instructions(process_server):
            entry["processServer"] = {
                "id": str(process_server.pk),
                "name": process_server.name,
                "url": url,
                "batchToken": batch_token(entry["itemId"]),
            }
            entries.append(entry)
    return entries


def scale_out_register(*, key_text: str, configuration_server: str, name: str, **details) -> tuple[Appliance, str]:
    """Register a scale-out process server of the appliance named `configuration_server` (finalized, in
    the key's project). It is ready at once: the configuration server's registration was finalized."""
    key = registration_key_verify(key_text)
    parent = key.project.appliances.filter(name=configuration_server, scale_out_of__isnull=True).first()
    if parent is None or parent.state != Appliance.State.FINALIZED:
        raise ArmError(
            404 if parent is None else 409,
            "ConfigurationServerNotFound" if parent is None else "ConfigurationServerNotFinalized",
            f"Project {key.project.name} has no finalized appliance named {configuration_server!r}: pass the name "
            "of a connected appliance (--configuration-server), and finalize its registration in Discover first.",
            "scaleOutOf",
        )
    existing = key.project.appliances.filter(name=name).first()
    if existing is not None and existing.scale_out_of_id != parent.pk:
        raise ArmError(
            409,
            "ApplianceNameTaken",
            f"An appliance named {name} is registered already and is not a scale-out process server of "
            f"{parent.name}: give this process server another name (--name).",
            "name",
        )
    with transaction.atomic():
        appliance, credential = services.appliance_register(key_text=key_text, name=name, **details)
        Appliance.objects.filter(pk=appliance.pk).update(
            scale_out_of=parent, state=Appliance.State.FINALIZED, finalized_at=appliance.registered_at
        )
    appliance.refresh_from_db()
    return appliance, credential
