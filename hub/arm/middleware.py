from __future__ import annotations

from hub.arm.paths import canonical_arm_path


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
        return self.get_response(request)
