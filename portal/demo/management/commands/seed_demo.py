from django.core.management.base import BaseCommand

from portal.demo.seed import DEMO_USERS, seed_demo
from portal.outbound.models import Destination


class Command(BaseCommand):
    help = "Create the demo institution and its admin, reviewer and clinician (idempotent)."

    def handle(self, *args, **options):
        institution = seed_demo()
        self.stdout.write(f"Demo institution: {institution.name} ({institution.slug})")
        for email, _, role, password in DEMO_USERS:
            self.stdout.write(f"  {role.label:<14} {email:<24} password: {password}")
        for destination in Destination.objects.for_institution(institution):
            where = destination.address or destination.option("host", "")
            self.stdout.write(f"  Destination: {destination.name}, {where}")
