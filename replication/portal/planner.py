"""Server Migration > Capacity planner: plan bandwidth and time before replicating, as Azure Site
Recovery's deployment planner does, for servers the project discovered, with a CSV export. The figures
come from replication.planning (inputs) and replication.capacity_plan (arithmetic), as the Replicate
wizard's review and the planReplicationCapacity API read them."""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from hub import clock, units
from replication import capacity_plan, planning
from replication.portal.lookups import selected_project

MEGABYTE = 10**6
# The planner lists at most this many servers (the rest: narrow with the search box).
LISTED_SERVERS = 200


def _number(request, key: str, high: float, errors: dict) -> float | None:
    text = request.GET.get(key, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= high:
        errors[key] = f"Enter a number from 0 to {high:g}."
        return None
    return value


def plan_inputs(request, project):
    """The servers listed and the planner's inputs read from the query string, with any errors per field."""
    errors: dict[str, str] = {}
    query = request.GET.get("q", "").strip()[:100]
    servers = project.discovered_servers.discovered(clock.now()).order_by("name")
    if query:
        servers = servers.filter(name__icontains=query)
    servers = list(servers[:LISTED_SERVERS])
    planned = request.GET.get("planned") == "1"
    chosen_ids = set(request.GET.getlist("server"))
    rows, chosen, churn = [], [], {}
    for server in servers:
        key = f"churn-{server.pk}"
        declared = _number(request, key, planning.MAX_CHURN_MBPS, errors)
        selected = str(server.pk) in chosen_ids if planned else True
        rows.append({"server": server, "selected": selected, "churn_key": key, "churn": request.GET.get(key, "")})
        if selected:
            chosen.append((server, None))
            if declared is not None:
                churn[server.pk] = declared * MEGABYTE
    bandwidth = _number(request, "bandwidth", planning.MAX_BANDWIDTH_MBPS, errors)
    rpo = _number(request, "rpo", planning.MAX_RPO_TARGET_MINUTES, errors)
    return rows, chosen, churn, bandwidth, rpo, errors, query


def compute(project, chosen, churn, bandwidth, rpo):
    return planning.plan(
        project,
        chosen,
        declared_churn=churn,
        declared_bandwidth=None if bandwidth is None else bandwidth * MEGABYTE / 8,
        rpo_target_minutes=rpo,
    )


@login_required
@require_GET
def planner(request):
    project = selected_project(request)
    context = {"blade": "planner", "project": project}
    if project is not None:
        rows, chosen, churn, bandwidth, rpo, errors, query = plan_inputs(request, project)
        plan = compute(project, chosen, churn, bandwidth, rpo) if chosen and not errors else None
        if request.GET.get("format") == "csv" and plan is not None:
            return plan_csv(project, plan)
        context.update(
            rows=rows,
            errors=errors,
            query=query,
            bandwidth=request.GET.get("bandwidth", ""),
            rpo=request.GET.get("rpo", ""),
            plan=plan,
            plan_rows=plan_rows(plan) if plan else [],
            csv_url=request.path + "?" + urlencode([*request.GET.lists(), ("format", ["csv"])], doseq=True),
            listed_limit=LISTED_SERVERS,
        )
    return render(request, "replication/planner.html", context)


def plan_rows(plan: planning.Plan) -> list[tuple[str, str]]:
    """The plan's figures as (label, value), for the page, the wizard's review and the CSV alike."""
    figures = plan.figures
    initial, rpo = figures.initial_replication_seconds, figures.achievable_rpo_seconds
    appliances = figures.appliances
    if appliances.one_suffices:
        per_day = appliances.changed_bytes_per_day / 10**12
        appliance_text = f"Yes: {appliances.machines} of 200 machines, {per_day:.3f} TB of 2 TB a day"
    else:
        appliance_text = f"No: {appliances.needed} needed ({'; '.join(appliances.reasons)})"
    no_link = (
        "the link carries no more than the churn"
        if figures.bandwidth_bytes_per_second
        else "no upload bandwidth is known (declare one in the Capacity planner, or cap the appliance's upload)"
    )
    target = figures.bandwidth_for_rpo_target
    cycle = capacity_plan.duration_text(figures.cycle_seconds)
    target_met = "met" if figures.meets_rpo_target else "not met"
    return [
        ("Servers", str(len(figures.servers))),
        ("Disk size (selected disks)", units.decimal_size(figures.total_disk_bytes)),
        ("Data to replicate", units.decimal_size(figures.total_data_bytes)),
        ("Upload bandwidth", f"{capacity_plan.rate_text(figures.bandwidth_bytes_per_second)}, {plan.link.source}"),
        ("Compression", plan.compression_source),
        ("Churn (sum of average write rates)", capacity_plan.rate_text(figures.churn_bytes_per_second)),
        (
            "Time to complete initial replication",
            capacity_plan.duration_text(initial) if initial else f"Never: {no_link}",
        ),
        (
            "Achievable RPO",
            f"{capacity_plan.duration_text(rpo)} (replication cycle {cycle})"
            if rpo
            else f"None: {no_link}, the RPO grows",
        ),
        (
            "RPO target",
            f"{capacity_plan.duration_text(figures.rpo_target_seconds)}: {target_met}",
        ),
        (
            "Bandwidth needed for the RPO target",
            capacity_plan.rate_text(target) if target else "None: the target is shorter than a replication cycle",
        ),
        ("Bandwidth for the churn + 20% headroom", capacity_plan.rate_text(figures.bandwidth_for_churn_with_headroom)),
        ("One appliance suffices", appliance_text),
    ]


def plan_csv(project, plan: planning.Plan) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="replication-plan-{project.name}.csv"'
    writer = csv.writer(response)
    writer.writerow(["Figure", "Value"])
    writer.writerows(plan_rows(plan))
    writer.writerow([])
    writer.writerow(["Server", "Disk bytes", "Data bytes", "Data from", "Churn MB/s", "Churn from"])
    for server in plan.figures.servers:
        writer.writerow(
            [
                server.name,
                server.disk_bytes,
                server.data_bytes,
                server.data_source,
                f"{server.churn_bytes_per_second / MEGABYTE:.3f}",
                server.churn_source,
            ]
        )
    return response


urlpatterns = [
    path("migrate/capacity-planner/", planner, name="capacity-planner"),
]
