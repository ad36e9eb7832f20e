from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from portal.tenants.middleware import SESSION_KEY
from portal.tenants.models import Membership
from portal.tenants.scoping import get_scoped_or_404, scoped_to_request


@require_POST
@login_required
def switch_institution(request):
    """Make another of the user's institutions the current one.

    An institution the user is not a member of is a 404: the switcher must not reveal
    which slugs exist.
    """
    slug = request.POST.get("institution", "")
    membership = next((m for m in request.memberships if m.institution.slug == slug), None)
    if membership is None:
        raise Http404("No such institution among yours")
    request.session[SESSION_KEY] = membership.institution_id
    messages.success(request, f"You are now working in {membership.institution.name}.")
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "home"
    return redirect(next_url)


@login_required
def member_list(request):
    members = scoped_to_request(Membership, request).select_related("user").order_by("user__email")
    return render(request, "tenants/member_list.html", {"members": members})


@login_required
def member_detail(request, pk):
    member = get_scoped_or_404(Membership.objects.select_related("user"), request, pk=pk)
    return render(request, "tenants/member_detail.html", {"member": member})
