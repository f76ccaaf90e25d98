"""Emulator controls over HTTP, for staff users only: the clock (`/emulator/clock`)."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import JsonResponse
from django.views.decorators.http import require_http_methods

from hub import clock


def clock_body() -> dict:
    return {"now": clock.now().isoformat(), "offsetSeconds": clock.offset().total_seconds()}


@staff_member_required(login_url="hub:signin")
@require_http_methods(["GET", "POST"])
def clock_control(request):
    """GET shows the emulated time; POST action=advance&duration=5d moves it, action=reset resets it."""
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "advance":
            try:
                clock.advance(clock.parse_duration(request.POST.get("duration", "")))
            except ValueError as error:
                return JsonResponse({"error": {"code": "InvalidDuration", "message": str(error)}}, status=400)
        elif action == "reset":
            clock.reset()
        else:
            return JsonResponse(
                {
                    "error": {
                        "code": "InvalidAction",
                        "message": "Use action=advance (with duration=5d) or action=reset.",
                    }
                },
                status=400,
            )
    return JsonResponse(clock_body())
