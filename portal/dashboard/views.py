from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from portal.tenants.models import Membership
from portal.tenants.scoping import scoped_to_request


@login_required
def home(request):
    """The current institution at a glance."""
    member_count = scoped_to_request(Membership, request).count()
    return render(request, "dashboard/home.html", {"member_count": member_count})
