"""`/emulator/faults` on the ARM-style API: list, inject and clear faults with an admin token (a personal
API token or an Entra ID access token of a user who is staff or a Global Administrator of their
directory). Faults and their scopes are the caller's directory's own: another directory's fault ids
are as unknown as ones that do not exist, and a scope must be one of the directory's resources.

    GET    /emulator/faults                 the directory's faults, newest first
    POST   /emulator/faults                 inject (the hub names it); 201 with the fault
    PUT    /emulator/faults/{id}            inject under a GUID the client chose; 201 (409 if taken)
    GET    /emulator/faults/{id}            one fault
    DELETE /emulator/faults/{id}            clear it: 200 with the cleared fault; 204 when unknown"""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.urls import path
from django.utils.dateparse import parse_datetime, parse_duration
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from faults import services
from faults.kinds import KINDS
from faults.models import Fault
from faults.scopes import scope_of
from hub import clock
from hub.arm.bodies import BodyReader
from hub.arm.errors import ArmError
from hub.arm.schema import arm_list_of, arm_resource, free_form
from hub.arm.views import ArmView, arm_list, arm_time
from hub.ids import parse_uuid
from projects import access

TYPE = "MigrateHub.Emulator/faults"
ADMIN = "emulatorAdministrator"

C = serializers.CharField
FAULT = arm_resource(
    "Fault",
    {
        "kind": C(),
        "scope": C(),
        "scopeKind": C(),
        "parameters": free_form(),
        "probability": serializers.FloatField(),
        "startTime": C(),
        "endTime": C(allow_null=True),
        "state": C(help_text="Scheduled, Active, Ended or Cleared"),
        "injectedBy": C(allow_null=True),
        "injectedAt": C(),
        "clearedBy": C(allow_null=True),
        "clearedAt": C(allow_null=True),
    },
    tracked=False,
)
FAULT_INPUT = inline_serializer(
    "FaultInput",
    {
        "properties": inline_serializer(
            "FaultInputProperties",
            {
                "kind": C(help_text=", ".join(KINDS)),
                "scope": C(help_text="A resource id of the caller's directory, of a scope kind the fault goes on"),
                "startTime": C(required=False, help_text="ISO 8601, by the emulated clock; default: now"),
                "duration": C(
                    required=False, help_text="ISO 8601 duration (PT30M), at most 30 days; default: until cleared"
                ),
                "probability": serializers.FloatField(
                    required=False,
                    help_text="Above 0, at most 1; default 1. Below 1 only for a kind that happens now and then: "
                    + ", ".join(slug for slug, kind in KINDS.items() if kind.probability_means),
                ),
                "parameters": free_form(help_text="The kind's parameters (see docs/api.md)"),
            },
        )
    },
)


def body(fault: Fault, now=None) -> dict:
    now = now or clock.now()
    return {
        "id": f"/emulator/faults/{fault.pk}",
        "name": str(fault.pk),
        "type": TYPE,
        "properties": {
            "kind": fault.kind,
            "scope": fault.scope,
            "scopeKind": fault.scope_kind,
            "parameters": fault.parameters,
            "probability": fault.probability,
            "startTime": arm_time(fault.starts_at),
            "endTime": arm_time(fault.ends_at),
            "state": str(fault.state(now)),
            "injectedBy": fault.injected_by.email if fault.injected_by else None,
            "injectedAt": arm_time(fault.injected_at),
            "clearedBy": fault.cleared_by.email if fault.cleared_by else None,
            "clearedAt": arm_time(fault.cleared_at),
        },
    }


def _inject(request, fault_id: uuid.UUID) -> Fault:
    reader = BodyReader.of(request)
    properties = reader.child("properties", required=True)
    kind_name = properties.text("kind", required=True, max_length=40)
    scope = properties.text("scope", required=True, max_length=400)
    start_text = properties.text("startTime", max_length=40)
    duration_text = properties.text("duration", max_length=40)
    probability = properties.raw("probability")
    parameters = properties.raw("parameters")
    reader.raise_errors()
    kind = KINDS.get(kind_name)
    if kind is None:
        raise ArmError(
            400,
            "InvalidFaultKind",
            f"Unknown fault kind '{kind_name}'; use one of {', '.join(KINDS)}.",
            "properties.kind",
        )
    choice = scope_of(request.user.tenant, scope, kind.scope_kinds)
    if choice is None:
        raise ArmError(
            400,
            "InvalidFaultScope",
            f"'{scope}' is not a resource of your directory that {kind.label} goes on ({', '.join(kind.scope_kinds)}).",
            "properties.scope",
        )
    starts_at = None
    if start_text:
        try:
            starts_at = parse_datetime(start_text)
        except ValueError:  # well formed, but no such day or hour
            starts_at = None
        if starts_at is None or starts_at.tzinfo is None:
            raise ArmError(
                400,
                "InvalidParameter",
                "'properties.startTime' must be an ISO 8601 time with its zone (2026-01-01T10:00:00Z).",
                "properties.startTime",
            )
        if starts_at > clock.now() + services.MAX_DURATION:
            raise ArmError(
                400, "InvalidParameter", "A fault may start at most 30 days from now.", "properties.startTime"
            )
    duration = None
    if duration_text:
        try:
            duration = parse_duration(duration_text)
        except (ValueError, OverflowError):
            duration = None
        if duration is None:
            raise ArmError(
                400,
                "InvalidParameter",
                "'properties.duration' must be an ISO 8601 duration such as PT30M.",
                "properties.duration",
            )
    if probability is None:
        probability = 1.0
    if isinstance(probability, bool) or not isinstance(probability, int | float):
        raise ArmError(
            400,
            "InvalidParameter",
            "'properties.probability' must be a number above 0 and at most 1.",
            "properties.probability",
        )
    if parameters is not None and not isinstance(parameters, dict):
        raise ArmError(
            400, "InvalidParameter", "'properties.parameters' must be a JSON object.", "properties.parameters"
        )
    if parameters and len(parameters) > 10:
        raise ArmError(400, "InvalidParameter", "A fault takes at most 10 parameters.", "properties.parameters")
    try:
        with transaction.atomic():
            fault = services.inject(
                tenant=request.user.tenant,
                injected_by=request.user,
                kind=kind.slug,
                scope=choice.scope,
                scope_kind=choice.kind,
                starts_at=starts_at,
                duration=duration,
                probability=float(probability),
                parameters=parameters,
                fault_id=fault_id,
            )
    except services.FaultRejected as rejected:
        raise ArmError(400, "InvalidFault", str(rejected), "properties") from None
    except IntegrityError:
        raise ArmError(
            409, "FaultExists", f"A fault named {fault_id} exists: faults do not change; clear it and inject another."
        ) from None
    return fault


class FaultsView(ArmView):
    permissions = {"get": ADMIN, "post": ADMIN}
    operation_group = "EmulatorFaults"

    def authorize(self, request, permission) -> None:
        require_emulator_administrator(request)

    @extend_schema(operation_id="EmulatorFaults_List", responses={200: arm_list_of(FAULT)})
    def get(self, request):
        now = clock.now()
        faults = Fault.objects.filter(tenant=request.user.tenant).select_related("injected_by", "cleared_by")[:1000]
        return arm_list([body(fault, now) for fault in faults])

    @extend_schema(operation_id="EmulatorFaults_Inject", request=FAULT_INPUT, responses={201: FAULT})
    def post(self, request):
        return Response(body(_inject(request, uuid.uuid4())), status=201)


class FaultView(ArmView):
    permissions = {"get": ADMIN, "put": ADMIN, "delete": ADMIN}
    operation_group = "EmulatorFaults"

    def authorize(self, request, permission) -> None:
        require_emulator_administrator(request)

    def _fault(self, request, fault_id) -> Fault:
        name = parse_uuid(fault_id)
        mine = Fault.objects.filter(tenant=request.user.tenant).select_related("injected_by", "cleared_by")
        found = mine.filter(pk=name).first() if name else None
        if found is None:
            raise ArmError(404, "FaultNotFound", f"Your directory has no fault named '{fault_id}'.")
        return found

    @extend_schema(operation_id="EmulatorFaults_Get", responses={200: FAULT})
    def get(self, request, fault_id):
        return Response(body(self._fault(request, fault_id)))

    @extend_schema(operation_id="EmulatorFaults_Create", request=FAULT_INPUT, responses={201: FAULT})
    def put(self, request, fault_id):
        name = parse_uuid(fault_id)
        if name is None:
            raise ArmError(400, "InvalidFaultName", "A fault's name is a GUID the client chooses (uuid4).")
        return Response(body(_inject(request, name)), status=201)

    @extend_schema(operation_id="EmulatorFaults_Clear", responses={200: FAULT, 204: None})
    def delete(self, request, fault_id):
        try:
            fault = self._fault(request, fault_id)
        except ArmError:
            return Response(status=204)
        services.clear(fault, cleared_by=request.user)
        fault.refresh_from_db()
        return Response(body(fault))


def require_emulator_administrator(request) -> None:
    """The emulator's own controls are for staff and for Global Administrators of their directory."""
    user = request.user
    if not (user.is_staff or access.is_global_administrator(user)):
        raise ArmError(
            403,
            "AuthorizationFailed",
            f"The client '{user.email}' does not have authorization to manage the emulator's faults: it takes "
            "a staff user or a Global Administrator of the directory.",
        )


urlpatterns = [
    path("emulator/faults", FaultsView.as_view()),
    path("emulator/faults/<str:fault_id>", FaultView.as_view()),
]
