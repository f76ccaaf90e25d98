"""Portal helpers for what the ARM layer refuses."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

from django.contrib import messages
from django.http import Http404

from hub.arm.errors import ArmError


@contextmanager
def not_found_as_404():
    """Inside it, an ARM "not found" (including what the user may not see) becomes the portal's 404;
    other refusals go on as they are."""
    try:
        yield
    except ArmError as error:
        if error.status != 404:
            raise
        raise Http404(error.message) from error


def done_or_refused(request, action: Callable[[], object], success: str) -> bool:
    """Run a portal action: its refusal (an ArmError) becomes the page's error message, in the words
    the portal uses; else `success` is its success message. True when the action was done."""
    try:
        action()
    except ArmError as error:
        messages.error(request, error.portal_message)
        return False
    messages.success(request, success)
    return True
