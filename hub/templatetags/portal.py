"""Template helpers every page uses: data amounts in the portal's one (decimal) convention, region
display names, and the status icons (inline SVG, so they render the same in every browser: Debian's
Chromium has no font with the hourglass character)."""

from __future__ import annotations

from django import template

from hub import units

register = template.Library()

# Job, notification and health states to the icon that shows them.
STATUS_ICON_KINDS = {
    "inprogress": "in-progress",
    "in-progress": "in-progress",
    "notstarted": "in-progress",
    "succeeded": "succeeded",
    "normal": "succeeded",
    "failed": "failed",
    "critical": "failed",
    "cancelled": "failed",
    "warning": "warning",
    "info": "info",
}


def status_icon_kind(status) -> str:
    return STATUS_ICON_KINDS.get(str(status or "").replace(" ", "").lower(), "info")


@register.inclusion_tag("hub/_status_icon.html")
def status_icon(status, label: str = ""):
    """{% status_icon "InProgress" %}: an inline SVG icon; `label` names it for screen readers (without
    one the icon is decoration beside words that say the same)."""
    return {"kind": status_icon_kind(status), "label": label}


@register.filter
def size(byte_count) -> str:
    """Bytes as the portal shows them: "16.8 MB" (decimal units)."""
    return units.decimal_size(byte_count)


@register.filter
def throughput(bytes_per_second) -> str:
    """ "4.2 MB/s": decimal units, as every page shows data amounts (hub.units)."""
    return units.decimal_rate(bytes_per_second)
