"""The appliance API (hub <-> replication appliance), versioned JSON over HTTP. The appliance only opens
outbound connections to it. Errors use the same envelope as ARM: {"error": {"code", "message"}}.

v1: verify a registration key, register an appliance with it (which returns the appliance's
credential), and heartbeat with that credential (`Authorization: Appliance <credential>`). A heartbeat's
answer lists the faults in force on the appliance and its servers (replication.fault_wire) and the
servers it replicates, unless its `replicationDigest` says it holds that list already; a body of
{"probe": true} asks only for the faults."""

from __future__ import annotations

import base64
import functools
import hashlib
import json

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.views import APIView

from hub import snapshots
from hub.arm.errors import ArmError
from hub.arm.parsers import BoundedJSONParser
from hub.arm.views import validated
from replication import fault_wire, keyvault, process_servers, services, uploads
from replication.keys import registration_key_verify


class ApplianceApiView(APIView):
    """Authenticated by the key or the appliance credential, not by a user's session or token."""

    authentication_classes: list = []
    permission_classes: list = []
    parser_classes = [BoundedJSONParser]

    def body(self, request) -> dict:
        if not isinstance(request.data, dict):
            raise ArmError(400, "InvalidRequestContent", "The request body must be a JSON object.")
        return request.data


class RegistrationKeyVerifyView(ApplianceApiView):
    """The key file is the credential here: its signature, secret and expiry are checked."""

    @extend_schema(operation_id="Appliance_VerifyRegistrationKey", responses={200: dict})
    def post(self, request):
        key_text = request.data.get("key") if isinstance(request.data, dict) else None
        if not isinstance(key_text, str):
            raise ArmError(400, "InvalidRequestContent", 'Send {"key": "<contents of the key file>"}.', "key")
        key = registration_key_verify(key_text)
        project = key.project
        return Response(
            {
                "keyId": str(key.pk),
                "project": project.name,
                "subscriptionId": str(project.subscription.pk),
                "resourceGroup": project.resource_group.name,
                "targetRegion": project.target_region,
                "expiresAt": key.expires_at.isoformat(),
            }
        )


class RegisterView(ApplianceApiView):
    @extend_schema(operation_id="Appliance_Register", responses={201: dict})
    def post(self, request):
        body = self.body(request)
        key_text = body.get("key")
        if not isinstance(key_text, str):
            raise ArmError(400, "InvalidRequestContent", 'Send the registration key file\'s contents as "key".', "key")
        ip_addresses = body.get("ipAddresses") or []
        if not isinstance(ip_addresses, list):
            raise ArmError(400, "InvalidRequestContent", "ipAddresses must be a list of strings.", "ipAddresses")
        register = services.appliance_register
        if body.get("scaleOutOf") is not None:  # setup --scale-out: a process server of that appliance
            register = functools.partial(
                process_servers.scale_out_register, configuration_server=str(body["scaleOutOf"]).strip()[:80]
            )
        appliance, credential = register(
            key_text=key_text,
            name=str(body.get("name") or "").strip(),
            fqdn=str(body.get("fqdn") or "")[:255],
            ip_addresses=[str(ip) for ip in ip_addresses][:16],
            listen=str(body.get("listen") or "")[:120],
            version=str(body.get("version") or "")[:40],
            host=body.get("host") if isinstance(body.get("host"), dict) else {},
        )
        return Response({"applianceId": str(appliance.pk), "credential": credential}, status=201)


# A day of changed data cannot exceed what a 100 Gbit/s link carries in a day; a rate, one such link.
MAX_REPORTED_BYTES_PER_DAY = 100 * 10**9 // 8 * 86_400
MAX_REPORTED_BYTES_PER_SECOND = 100 * 10**9 // 8


def _reported_load(load) -> dict | None:
    """The process server's churn from a heartbeat's `load`, or None when absent or not numbers in range
    (an older appliance sends none; its figures are then kept as they were)."""
    if not isinstance(load, dict):
        return None
    per_day, peak = load.get("changedBytesLastDay"), load.get("peakMachineBytesPerSecond")
    numbers = all(isinstance(value, int | float) and not isinstance(value, bool) for value in (per_day, peak))
    if not numbers or not 0 <= per_day <= MAX_REPORTED_BYTES_PER_DAY or not 0 <= peak <= MAX_REPORTED_BYTES_PER_SECOND:
        return None
    reported = {"changed_bytes_per_day": int(per_day), "peak_machine_bytes_per_second": float(peak)}
    cap = load.get("uploadCapBytesPerSecond")
    if isinstance(cap, int | float) and not isinstance(cap, bool) and 0 <= cap <= MAX_REPORTED_BYTES_PER_SECOND:
        reported["upload_cap_bytes_per_second"] = float(cap)
    return reported


def replication_digest(entries: list[dict]) -> str:
    return hashlib.sha256(json.dumps(entries, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class HeartbeatView(ApplianceApiView):
    @extend_schema(operation_id="Appliance_Heartbeat", responses={200: dict})
    def post(self, request, appliance_id):
        appliance = services.appliance_authenticate(request.headers.get("Authorization", ""), appliance_id)
        body = self.body(request)
        if body.get("probe") is True:
            # An appliance cut off by an applianceOffline fault only asks whether it still is: no
            # heartbeat is recorded, so the hub's heartbeat-lost health shows as it would (the hub notes it offline).
            return Response({"faults": fault_wire.probe_answer(appliance)})
        raw = body.get("components")
        components = {str(k)[:60]: str(v)[:60] for k, v in list(raw.items())[:10]} if isinstance(raw, dict) else {}
        appliance = services.appliance_heartbeat(
            appliance,
            version=str(body.get("version") or ""),
            components=components,
            listen=str(body.get("listen") or ""),
            load=_reported_load(body.get("load")),
        )
        if isinstance(body.get("agents"), list):
            services.agents_report(appliance, body["agents"])
            fault_wire.record_agent_problems(appliance, body["agents"])
        fault_wire.record_appliance_problems(appliance, body.get("problems"))
        uploads.apply_stalled(appliance)
        # The hub's epoch changes when it is restored from a snapshot: in each server's entry, so agents
        # whose state belongs to another epoch start over from what the hub holds (snapshot_hooks.py).
        epoch = snapshots.hub_epoch()
        entries = [{**entry, "hubEpoch": epoch} for entry in process_servers.heartbeat_instructions(appliance)]
        answer = {
            "state": appliance.state,
            "receivedAt": appliance.last_heartbeat_at.isoformat(),
            "hubEpoch": epoch,
            "faults": fault_wire.heartbeat_faults(appliance),
        }
        # Only a changed list is sent: an appliance sends the digest of the list it holds, and one that
        # holds this one is told so instead of being sent every server's entry again.
        digest = replication_digest(entries)
        if body.get("replicationDigest") != digest:
            answer["replication"] = entries
        return Response({**answer, "replicationDigest": digest})


# What a discovered machine may report. Azure's own limits (OS disk 2,048 GB, data disks 32 TiB and 64 of
# them) are Replicate's rules (vm_requirements.py), which say what to change: a source machine beyond them
# is still discovered. These bounds only keep out what no machine has; the refusal names field and limit.
MAX_SOURCE_DISK_BYTES = 256 * 1024**4  # 256 TiB: eight times Azure's largest managed disk
MAX_SOURCE_DISKS = 256
MAX_SOURCE_NICS = 32
MAX_SOURCE_MEMORY_MB = 64 * 1024 * 1024  # 64 TiB, beyond the largest servers sold
MAX_SOURCE_CORES = 1024


class DiskInput(serializers.Serializer):
    diskId = serializers.CharField(max_length=128)
    name = serializers.CharField(max_length=255, required=False)
    sizeBytes = serializers.IntegerField(min_value=1, max_value=MAX_SOURCE_DISK_BYTES)
    isOsDisk = serializers.BooleanField(required=False, default=False)
    # The space in use, when the agent can tell it cheaply (an image file's allocated bytes): the planner's data.
    usedBytes = serializers.IntegerField(min_value=0, max_value=MAX_SOURCE_DISK_BYTES, required=False)


class NicInput(serializers.Serializer):
    nicId = serializers.CharField(max_length=128)
    ipAddresses = serializers.ListField(child=serializers.IPAddressField(), max_length=32, required=False)
    isPrimary = serializers.BooleanField(required=False, default=False)


class MachineInput(serializers.Serializer):
    hostName = serializers.CharField(max_length=255)
    osType = serializers.ChoiceField(choices=["Windows", "Linux"])
    osName = serializers.CharField(max_length=120)
    osVersion = serializers.CharField(max_length=60, required=False, allow_blank=True)
    architecture = serializers.CharField(max_length=20, required=False, allow_blank=True)
    cores = serializers.IntegerField(min_value=1, max_value=MAX_SOURCE_CORES)
    memoryMB = serializers.IntegerField(min_value=1, max_value=MAX_SOURCE_MEMORY_MB)
    firmware = serializers.ChoiceField(choices=["BIOS", "UEFI"], required=False, default="BIOS")
    nics = NicInput(many=True, required=False, max_length=MAX_SOURCE_NICS)
    disks = DiskInput(many=True, allow_empty=False, max_length=MAX_SOURCE_DISKS)


class MachineReport(serializers.Serializer):
    machineId = serializers.CharField(max_length=128)
    agentVersion = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    machine = MachineInput()


class MachinesView(ApplianceApiView):
    """An agent registered with the appliance: record (or update) its machine."""

    @extend_schema(operation_id="Appliance_ReportMachine", request=MachineReport, responses={200: dict})
    def post(self, request, appliance_id):
        appliance = services.appliance_authenticate(request.headers.get("Authorization", ""), appliance_id)
        report = validated(MachineReport, self.body(request))
        server = services.server_report(
            appliance=appliance,
            machine_id=report["machineId"],
            agent_version=report["agentVersion"],
            machine=report["machine"],
        )
        return Response({"serverId": str(server.pk), "name": server.name})


class WrapKeyView(ApplianceApiView):
    """Key Vault's wrapKey, for the process server's data keys: the project's key never leaves the hub."""

    @extend_schema(operation_id="Appliance_WrapKey", responses={200: dict})
    def post(self, request, appliance_id):
        appliance = services.appliance_authenticate(request.headers.get("Authorization", ""), appliance_id)
        value = self.body(request).get("value")
        try:
            data_key = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
        except ValueError:
            data_key = b""
        key_id, wrapped = keyvault.wrap_key(appliance.project, data_key)
        return Response({"keyId": key_id, "wrappedKey": wrapped})


class BatchParser(BaseParser):
    """An uploaded batch is binary (docs/replication-protocol.md), read whole up to the protocol's cap."""

    media_type = "application/octet-stream"

    def parse(self, stream, media_type=None, parser_context=None):
        data = stream.read(uploads.MAX_UPLOAD_BYTES + 1) if stream is not None else b""
        if len(data) > uploads.MAX_UPLOAD_BYTES:
            raise ArmError(413, "BatchTooLarge", "A batch may carry at most 24 MiB; send smaller batches.")
        return data


class BatchUploadView(ApplianceApiView):
    parser_classes = [BatchParser]

    @extend_schema(operation_id="Appliance_UploadBatch", request=bytes, responses={201: dict, 200: dict})
    def post(self, request, appliance_id):
        appliance = services.appliance_authenticate(request.headers.get("Authorization", ""), appliance_id)
        body = request.data  # a memoryview when the hub kept it in one of its buffers (hub/asgi.py)
        if not isinstance(body, bytes | memoryview):
            raise ArmError(415, "UnsupportedMediaType", "Upload a batch as application/octet-stream.")
        header, _ = uploads.parse_upload(body)
        epoch = header.get("hubEpoch")
        if epoch is not None and epoch != snapshots.hub_epoch():
            raise ArmError(
                409,
                "HubEpochChanged",
                "The hub was restored from a snapshot after this batch was made: the agent starts over from what "
                "the hub holds once its next heartbeat tells it the hub's new epoch.",
                "hubEpoch",
            )
        try:
            sequence, duplicate = uploads.batch_store(appliance, body)
        finally:
            if isinstance(body, memoryview):
                # Done with it: the hub's kept buffer can take the next body (its request, which holds
                # this view, is freed only by the garbage collector).
                body.release()
        return Response(
            {"stored": True, "sequence": sequence, "duplicate": duplicate}, status=200 if duplicate else 201
        )


urlpatterns = [
    path("appliance-api/v1/registration-keys/verify", RegistrationKeyVerifyView.as_view()),
    path("appliance-api/v1/appliances/register", RegisterView.as_view()),
    path("appliance-api/v1/appliances/<str:appliance_id>/heartbeat", HeartbeatView.as_view()),
    path("appliance-api/v1/appliances/<str:appliance_id>/machines", MachinesView.as_view()),
    path("appliance-api/v1/appliances/<str:appliance_id>/keyvault/wrapkey", WrapKeyView.as_view()),
    path("appliance-api/v1/appliances/<str:appliance_id>/replication/batches", BatchUploadView.as_view()),
]
