"""What the Clarius integration adds to the core's pages: its dashboard panel and the
members' Clarius links (state on the member pages, unlinking when a member leaves).
Registered in ``apps.py``."""

from __future__ import annotations

from django.db.models import OuterRef, Subquery

from integrations.clarius.ingestion.linking import unlink
from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal.dashboard.panels import Panel
from portal.dashboard.queries import SubqueryCount
from portal.tenants.linked_accounts import LinkedAccounts
from portal.tenants.models import Institution
from portal.tenants.scoping import scoped_to_request
from portal.work.policy import retrying


def dashboard_status(request) -> dict:
    """For the institution's administrators (the core shows panels to no one else): the
    last notification, failed and retrying notifications, rejected links, and the exams
    waiting because their Clarius account is not linked here, in two queries.

    A notification whose account no institution ever linked names no institution; the
    waiting ones counted here are those of a token linked here once (a link waiting for
    confirmation, rejected, or unlinked when its member left).
    """
    receipts = NotificationReceipt.objects.filter(link__institution=request.institution)
    links = scoped_to_request(ClariusLink, request)
    waiting = NotificationReceipt.objects.filter(
        state=NotificationReceipt.State.UNASSIGNED, customer_id__in=links.values("token")
    )
    last = receipts.order_by("-received_at").values("received_at")[:1]
    status = (
        Institution.objects.filter(pk=request.institution.pk)
        .annotate(
            last_notification=Subquery(last),
            failed_notifications=SubqueryCount(
                receipts.filter(state=NotificationReceipt.State.FAILED)
            ),
            retrying_notifications=SubqueryCount(
                retrying(receipts, NotificationReceipt.State.PENDING)
            ),
            rejected_links=SubqueryCount(links.filter(state=ClariusLink.State.REJECTED)),
            waiting_unlinked=SubqueryCount(waiting),
        )
        .values(
            "last_notification",
            "failed_notifications",
            "retrying_notifications",
            "rejected_links",
            "waiting_unlinked",
        )
        .get()
    )
    status["waiting_members"] = []
    if status["waiting_unlinked"]:
        users = links.filter(token__in=waiting.values("customer_id")).select_related("user")
        names = {link.user.get_full_name() or link.user.email for link in users}
        status["waiting_members"] = sorted(names)
    return status


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
