"""Requests refused before any view sees them."""

from __future__ import annotations

from hub.error_pages import bad_request


class NulCharacterMiddleware:
    """Refuses a path or query string carrying a NUL character (%00) with a 400: no name or value holds
    one, and PostgreSQL cannot even compare text with it, so the lookup would fail with a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path_info or "%00" in request.META.get("QUERY_STRING", ""):
            return bad_request(request)
        return self.get_response(request)
