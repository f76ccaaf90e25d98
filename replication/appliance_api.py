"""The appliance API (hub <-> replication appliance), versioned JSON over HTTP. The appliance only opens
outbound connections to it. Errors use the same envelope as ARM: {"error": {"code", "message"}}.

v1 so far: verify a registration key (the appliance's setup does this before it registers)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.arm.errors import ArmError
from replication.keys import registration_key_verify


class RegistrationKeyVerifyView(APIView):
    """The key file is the credential here: its signature, secret and expiry are checked."""

    authentication_classes: list = []
    permission_classes: list = []
    parser_classes = [JSONParser]

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


urlpatterns = [path("appliance-api/v1/registration-keys/verify", RegistrationKeyVerifyView.as_view())]
