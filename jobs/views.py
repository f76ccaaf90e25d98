from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from hub.http import not_found_as_404
from jobs.models import Job
from jobs.selectors import get_visible_job
from jobs.services import notifications_mark_read


@login_required
@require_GET
def job_list(request):
    jobs = Job.objects.visible_to(request.user).select_related("subscription")[:100]
    return render(request, "jobs/job_list.html", {"jobs": jobs, "blade": "jobs"})


@login_required
@require_GET
def job_detail(request, job_id):
    with not_found_as_404():
        job = get_visible_job(request.user, job_id)
    return render(request, "jobs/job_detail.html", {"job": job, "tasks": job.tasks.all(), "blade": "jobs"})


@login_required
@require_GET
def notification_list(request):
    """The bell's list as the page renders it (the context processor supplies the notifications)."""
    return render(request, "jobs/_notification_list.html")


@login_required
@require_POST
def mark_notifications_read(request):
    notifications_mark_read(request.user)
    return render(request, "jobs/_bell_count.html", {"unread_count": 0}) if request.htmx else HttpResponse(status=204)
