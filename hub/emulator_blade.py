"""The Emulator blade: the controls that are the emulator's own, not Azure's (faults, snapshots, the
clock), as tabs of one blade at /emulator/portal/. Staff only, like /emulator/clock.

Domain apps add their tab from their AppConfig.ready with `register_tab`, so this platform module
never names them. A tab's page extends "hub/emulator_blade.html" and fills `{% block tab %}`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.admin.views.decorators import staff_member_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from hub import clock


@dataclass(frozen=True)
class EmulatorTab:
    slug: str
    label: str
    url_name: str
    order: int

    @property
    def url(self) -> str:
        return reverse(self.url_name)


_tabs: dict[str, EmulatorTab] = {}


def register_tab(slug: str, label: str, url_name: str, order: int = 50) -> None:
    _tabs[slug] = EmulatorTab(slug, label, url_name, order)


def tabs() -> list[EmulatorTab]:
    return sorted(_tabs.values(), key=lambda tab: (tab.order, tab.label))


def blade_context(current: str) -> dict:
    """What every tab's page needs for the shell: the tabs and which one is open."""
    return {"emulator_tabs": tabs(), "emulator_tab": current}


register_tab("clock", "Clock", "hub:emulator-clock-tab", order=90)


@staff_member_required(login_url="hub:signin")
@require_GET
def clock_tab(request):
    return render(
        request,
        "hub/emulator_clock.html",
        {**blade_context("clock"), "now": clock.now(), "offset": clock.offset()},
    )


@staff_member_required(login_url="hub:signin")
@require_GET
def blade(request):
    """/emulator/portal/ opens the first tab."""
    return redirect(tabs()[0].url)
