"""What the Clarius integration adds to the core's pages: its dashboard panel and the
members' Clarius links (state on the member pages, unlinking when a member leaves).
Registered in ``apps.py``."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery

from integrations.clarius.ingestion.linking import unlink
from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal.dashboard.panels import Panel
from portal.dashboard.queries import SubqueryCount, is_clinician
from portal.tenants.linked_accounts import LinkedAccounts
from portal.tenants.models import Institution
from portal.tenants.scoping import scoped_to_request


def dashboard_status(request) -> dict:
    """The last notification, failed notifications and rejected links, in one query.

    A clinician sees what concerns them: notifications for their own Clarius links.
    """
    receipts = NotificationReceipt.objects.filter(link__institution=request.institution)
    links = scoped_to_request(ClariusLink, request)
    if is_clinician(request):
        receipts = receipts.filter(link__user=request.user)
        links = links.filter(user=request.user)
    last = receipts.order_by("-received_at").values("received_at")[:1]
    return (
        Institution.objects.filter(pk=request.institution.pk)
        .annotate(
            last_notification=Subquery(last),
            failed_notifications=SubqueryCount(
                receipts.filter(state=NotificationReceipt.State.FAILED)
            ),
            rejected_links=SubqueryCount(links.filter(state=ClariusLink.State.REJECTED)),
        )
        .values("last_notification", "failed_notifications", "rejected_links")
        .get()
    )


def latest_link_state():
    return (
        ClariusLink.objects.filter(institution=OuterRef("institution"), user=OuterRef("user"))
        .order_by("-created_at", "-id")
        .values("state")
    )


def member_links(request, membership):
    return scoped_to_request(ClariusLink, request).filter(user_id=membership.user_id)


def unlink_member(membership) -> None:
    """A member who leaves has their links here unlinked: their exams stop arriving."""
    links = ClariusLink.objects.for_institution(membership.institution_id).filter(
        user_id=membership.user_id,
        state__in=[ClariusLink.State.PENDING, ClariusLink.State.CONFIRMED],
    )
    for link in links:
        unlink(link)


DASHBOARD_PANEL = Panel(
    key="clarius",
    title="Clarius",
    template="clarius/dashboard_panel.html",
    context=dashboard_status,
)

LINKED_ACCOUNTS = LinkedAccounts(
    key="clarius",
    label="Clarius",
    latest_state=latest_link_state,
    state_labels=dict(ClariusLink.State.choices),
    manage_url="clarius-institution-links",
    own_url="clarius-my-links",
    member_links=member_links,
    member_template="clarius/member_links.html",
    on_member_removed=unlink_member,
)
