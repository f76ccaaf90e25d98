import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from jobs.models import Job
from jobs.probe import PROBE_SCENARIO, probe_report
from jobs.services import job_start


class Command(BaseCommand):
    help = (
        "Start worker probes (jobs whose effects can be counted; one id a line) or, with --report, say "
        "how the given probes ended (JSON)."
    )

    def add_arguments(self, parser):
        parser.add_argument("job_ids", nargs="*", help="With --report: the probes to report on.")
        parser.add_argument("--count", type=int, default=1, help="How many probes to start.")
        parser.add_argument("--seconds", type=float, default=0.5, help="How long each holds a worker.")
        parser.add_argument("--email", default="admin@contoso.com", help="Who starts them (notified of effects).")
        parser.add_argument("--report", action="store_true")

    def handle(self, *args, job_ids, count, seconds, email, report, **options):
        if report:
            self.stdout.write(json.dumps(probe_report(job_ids)))
            return
        user = get_user_model().objects.filter(email__iexact=email).first()
        subscription_model = Job._meta.get_field("subscription").related_model
        subscription = subscription_model.objects.filter(tenant=getattr(user, "tenant", None)).first()
        if user is None or subscription is None:
            raise CommandError(f"No user {email!r} with a subscription: run seed_demo, or pass --email.")
        for number in range(count):
            job = job_start(
                scenario_name=PROBE_SCENARIO,
                subscription=subscription,
                created_by=user,
                target_object_name=f"probe {number + 1}",
                job_input={"seconds": seconds},
            )
            self.stdout.write(str(job.pk))
