"""Portal helpers for what the ARM layer refuses."""

from __future__ import annotations

from contextlib import contextmanager

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
