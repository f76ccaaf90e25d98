from __future__ import annotations

import time

from hub.arm.paths import ARM_ROOTS, canonical_arm_path

# The HTTP APIs, and the portal's Azure Migrate pages, whose answers say how long the hub took
# (Server-Timing, for clients and bench/).
TIMED_ROOTS = (*ARM_ROOTS, "appliance-api", "migrate")


class ArmPathMiddleware:
    """Lower-cases the keyword segments of ARM paths before URL resolution.

    ARM matches `resourceGroups`, `providers`, namespaces and type names case-insensitively, and the
    SDKs disagree (azure-mgmt-resource sends `resourcegroups`). Names stay as the client sent them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        canonical = canonical_arm_path(request.path_info)
        if canonical != request.path_info:
            request.path_info = canonical
        started = time.perf_counter()
        response = self.get_response(request)
        if request.path_info.split("/", 2)[1] in TIMED_ROOTS:
            # How long the hub itself took, for clients and bench/ (Server-Timing is a W3C header).
            response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
        return response
