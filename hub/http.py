"""Portal helpers for what the ARM layer refuses."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect

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


def render_part(request, template: str, part: str, context: dict):
    """The whole page; to an htmx request only the template's partial `part`, the piece it swaps in."""
    return render(request, f"{template}#{part}" if request.htmx else template, context)


def redirect_page(request, url: str):
    """Go to `url`: an htmx request is told to load it as a whole page rather than swap it into a part."""
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@contextmanager
def refusal_on_form(form, fields: dict[str, str] | None = None):
    """Inside it, a portal form's action: its refusal (an ArmError) becomes the form's error, in the
    words the portal uses, on the field `fields` maps the error's target to (else on the whole form),
    and the view goes on past the block to show the form again."""
    try:
        yield
    except ArmError as error:
        form.add_error((fields or {}).get(error.target or ""), error.portal_message)


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
