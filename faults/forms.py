"""The Inject fault form of the Faults tab: kind, scope (one of the tenant's own), start, duration,
probability and the kind's parameters. Every field is bounded; errors are messages on the form."""

from __future__ import annotations

from datetime import UTC, timedelta

from django import forms
from django.urls import reverse
from django.utils.html import format_html_join

from faults import services
from faults.kinds import KINDS, ScopeKind
from faults.scopes import scope_of
from hub import clock

MAX_DURATION_MINUTES = int(services.MAX_DURATION.total_seconds() // 60)


# Where the scope search's answer goes (faults/portal.py scope_search), for both of its triggers: the
# kind and the search box. Each sends both, and the chosen scope; a newer search replaces one in flight.
SCOPE_SEARCH_HTMX = {
    "hx-target": "#scope-results",
    "hx-swap": "outerHTML",
    "hx-include": "#id_kind, #id_scope_search, #id_scope",
    "hx-sync": "#inject-fault:replace",
}


def parameter_field_name(kind: str, parameter: str) -> str:
    return f"param_{kind}_{parameter}"


class InjectFaultForm(forms.Form):
    kind = forms.ChoiceField(label="Fault", choices=[(slug, kind.label) for slug, kind in KINDS.items()])
    scope = forms.CharField(label="Scope", max_length=400)
    # What the person typed to find the scope; the page searches with it (faults/portal.py).
    scope_search = forms.CharField(label="Find a resource", max_length=400, required=False)
    start = forms.ChoiceField(label="Start", choices=[("now", "Now"), ("at", "At a time")], initial="now")
    starts_at = forms.DateTimeField(
        label="Start at (UTC, by the emulated clock)",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)", required=False, min_value=1, max_value=MAX_DURATION_MINUTES
    )
    probability = forms.FloatField(
        label="Probability",
        required=False,
        min_value=0.01,
        max_value=1,
        help_text="Of each occurrence: for a fault that happens now and then (an upload, a read, a heartbeat). "
        "Leave empty for a state (a version, a quota, a route, a full account).",
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        # Choosing a fault searches again: only the kinds of resource it goes on are offered.
        self.fields["kind"].widget.attrs.update(
            {"hx-get": reverse("faults:scopes"), "hx-trigger": "change", **SCOPE_SEARCH_HTMX}
        )
        # Each kind's parameters, named per kind so the page can show only the chosen kind's.
        for slug, kind in KINDS.items():
            for parameter in kind.parameters:
                self.fields[parameter_field_name(slug, parameter.name)] = forms.FloatField(
                    label=parameter.label,
                    required=False,
                    min_value=parameter.minimum,
                    max_value=parameter.maximum,
                    initial=parameter.default,
                )

    def scope_search_htmx(self) -> str:
        return format_html_join(" ", '{}="{}"', SCOPE_SEARCH_HTMX.items())

    def parameter_fields(self):
        """(kind slug, bound field) for the template: each shown with its kind."""
        for slug, kind in KINDS.items():
            for parameter in kind.parameters:
                yield slug, self[parameter_field_name(slug, parameter.name)]

    def clean(self):
        data = super().clean()
        kind = KINDS.get(data.get("kind") or "")
        if kind is None or "scope" not in data:
            return data
        choice = scope_of(self.tenant, data["scope"], kind.scope_kinds)
        if choice is None:
            allowed = " or ".join(ScopeKind.LABELS[k].lower() for k in kind.scope_kinds)
            self.add_error("scope", f"{kind.label} goes on a {allowed} of your directory: choose one from the list.")
        else:
            data["scope_choice"] = choice
        probability = data.get("probability")
        if probability is not None and probability < 1 and not kind.probability_means:
            self.add_error(
                "probability",
                f"{kind.label} is a state, not an event that happens now and then: leave the probability empty.",
            )
        if data.get("start") == "at":
            if data.get("starts_at") is None:
                self.add_error("starts_at", "Give the time the fault starts, or choose Now.")
            else:
                data["starts_at"] = data["starts_at"].replace(tzinfo=UTC)
                if data["starts_at"] > clock.now() + services.MAX_DURATION:
                    self.add_error("starts_at", "A fault may start at most 30 days from now.")
        else:
            data["starts_at"] = None
        data["parameters"] = {
            parameter.name: data[parameter_field_name(kind.slug, parameter.name)]
            for parameter in kind.parameters
            if data.get(parameter_field_name(kind.slug, parameter.name)) is not None
        }
        return data

    def inject(self, user):
        data = self.cleaned_data
        choice = data["scope_choice"]
        minutes = data.get("duration_minutes")
        return services.inject(
            tenant=self.tenant,
            injected_by=user,
            kind=data["kind"],
            scope=choice.scope,
            scope_kind=choice.kind,
            starts_at=data.get("starts_at"),
            duration=timedelta(minutes=minutes) if minutes else None,
            probability=data.get("probability") or 1.0,
            parameters=data["parameters"],
        )
