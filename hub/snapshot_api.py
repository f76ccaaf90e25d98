"""`/emulator/snapshots`: the hub's snapshots over HTTP (hub/snapshots.py), beside `/emulator/clock`.

For the emulator's operators only: a staff user signed in to the portal (with its CSRF token), or a
staff user's API token (`Authorization: Bearer`), the admin token of the emulator controls.

GET lists the snapshots; POST takes `action` (save, restore, delete or reset) and `name`, as JSON or
a form. Refusals use the ARM error envelope.
"""

from __future__ import annotations

from rest_framework import permissions
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import FormParser
from rest_framework.response import Response
from rest_framework.views import APIView

from hub import snapshots
from hub.arm.auth import BearerTokenAuthentication
from hub.arm.errors import ArmError
from hub.arm.parsers import BoundedJSONParser

ACTIONS = ("save", "restore", "delete", "reset")


class IsEmulatorOperator(permissions.BasePermission):
    message = "Only the emulator's operators (staff users) may save or restore snapshots of the hub."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


def snapshots_body() -> dict:
    return {
        "value": snapshots.snapshot_list(),
        "operation": snapshots.hold_state(),
        "hubEpoch": snapshots.hub_epoch(),
    }


def run_action(action, name, user) -> tuple[int, dict]:
    """Run one snapshot action for an operator: (HTTP status, body). Refusals raise ArmError."""
    if action not in ACTIONS:
        raise ArmError(
            400, "InvalidAction", f"Use action={', '.join(ACTIONS)} (with name= except for reset).", "action"
        )
    try:
        if action == "save":
            return 201, snapshots.snapshot_save(name, created_by=getattr(user, "email", "") or str(user))
        if action == "restore":
            return 200, snapshots.snapshot_restore(name)
        if action == "delete":
            snapshots.snapshot_delete(name)
            return 200, snapshots_body()
        return 200, snapshots.snapshot_reset()
    except snapshots.SnapshotError as error:
        raise ArmError(error.status, error.code, error.message, "name" if error.status == 400 else None) from error


class SnapshotsView(APIView):
    # An emulator control, not an Azure operation: out of the OpenAPI document (whose fuzzing would
    # otherwise reset the hub under the other tests).
    schema = None
    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [IsEmulatorOperator]
    parser_classes = [BoundedJSONParser, FormParser]

    def get(self, request):
        return Response(snapshots_body())

    def post(self, request):
        data = request.data if hasattr(request.data, "get") else {}
        status, body = run_action(data.get("action"), data.get("name"), request.user)
        return Response(body, status=status)
