"""The Migrate page's cutover forecast, as one self-contained block: `{% cutover_forecast item %}`."""

from __future__ import annotations

from django import template

from replication import capacity_plan, planning

register = template.Library()


@register.inclusion_tag("replication/planning/_cutover_forecast.html")
def cutover_forecast(item) -> dict:
    forecast = planning.cutover_forecast(item)
    if forecast is None:
        return {"forecast": None}
    figures = forecast.figures
    return {
        "forecast": forecast,
        "total": capacity_plan.duration_text(figures.total_seconds),
        "rows": [
            ("Shut down the server", capacity_plan.duration_text(figures.shutdown_seconds), "request to the agent"),
            (
                "Final replication",
                capacity_plan.duration_text(figures.scan_seconds + figures.transfer_seconds),
                f"about {figures.changed_bytes / 10**6:,.1f} MB changed since the last recovery point "
                f"({forecast.churn_source} churn), at {capacity_plan.rate_text(figures.throughput_bytes_per_second)} "
                f"({forecast.throughput_source}); reading the disks and recording the point: {forecast.cycle_source}",
            ),
            (
                "Create and start the Azure VM",
                capacity_plan.duration_text(figures.build_seconds),
                forecast.build_source,
            ),
        ],
    }
