"""The institution admin's PACS and EHR destinations: list, add, edit, test, remove, and
each destination's delivery log with "resend".

Administrators of the current institution only (``admin_required``: a 404 for anyone
else, as every admin page); another institution's destination is a 404 too. The pages
are built from the registered kinds (``portal.outbound.kinds``) and name no protocol.
Every change (add, edit, switch off or on, remove, resend) is in the audit log; a
destination's secret is never shown, logged or audited.

Removing a destination deletes its delivery log with it (the rows say what the PACS or
EHR holds), so the remove page says how many deliveries would go and offers to switch
the destination off instead, which keeps the log.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.contrib import messages
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from portal.dashboard.paging import BadCursor, SortKey, paginate
from portal.dashboard.queries import patient_search, start_of_day
from portal.dashboard.views import bad_cursor_page, page_links
from portal.exams import audit_display
from portal.exams.access import audit
from portal.exams.models import AuditEvent, Exam
from portal.outbound import kinds, sending, status
from portal.outbound.forms import DestinationForm, LogFilterForm
from portal.outbound.models import Destination, Transmission
from portal.tenants.roles import admin_required
from portal.tenants.scoping import get_scoped_or_404, scoped_to_request
from portal.text import clean_text

logger = logging.getLogger(__name__)
Action = AuditEvent.Action
PAGE_SIZE = 50
KEYS = [SortKey("id", True, Transmission._meta.get_field("id"))]
# "Test connection" waits this long for the kind's check; a receiver that never answers
# must not hold the admin's page (or a web worker) for the kind's own longer timeouts.
TEST_TIMEOUT = timedelta(seconds=20)
LARGEST_ID = 2**63 - 1


def _destination(request, pk) -> Destination:
    return get_scoped_or_404(Destination, request, pk=pk)


def _kind(key) -> kinds.Kind:
    kind = kinds.get(key)
    if kind is None:
        raise Http404("No such kind of destination")
    return kind


@admin_required
def destination_list(request):
    destinations = list(scoped_to_request(Destination, request).select_related("created_by"))
    counts = status.health_counts(destinations)
    for d in destinations:
        d.counts = counts[d.pk]
    context = {"destinations": destinations, "kinds": kinds.registered()}
    return render(request, "outbound/destination_list.html", context)


@admin_required
def destination_add(request, kind):
    entry = _kind(kind)
    form = DestinationForm(request.POST if request.method == "POST" else None, kind=entry)
    if request.method == "POST" and form.is_valid():
        destination = Destination(
            institution=request.institution, kind=entry.key, created_by=request.user
        )
        form.apply(destination)
        with transaction.atomic():
            destination.save()
            audit(
                request, Action.ADD_DESTINATION, destination, name=destination.name, kind=entry.key
            )
        logger.info(
            "institution %s: destination %s (%s) added by user %s",
            request.institution.slug,
            destination.pk,
            entry.key,
            request.user.pk,
        )
        messages.success(request, f"{destination.name} is added. Test the connection below.")
        return redirect("destination-detail", pk=destination.pk)
    context = {"form": form, "kind": entry, "destination": None}
    return render(
        request, "outbound/destination_form.html", context, status=400 if form.errors else 200
    )


@admin_required
def destination_edit(request, pk):
    destination = _destination(request, pk)
    entry = destination.kind_entry
    if entry is None:
        messages.error(
            request,
            f"No installed integration sends to {destination.kind!r}: "
            "its settings cannot be edited.",
        )
        return redirect("destination-detail", pk=destination.pk)
    form = DestinationForm(
        request.POST if request.method == "POST" else None, kind=entry, instance=destination
    )
    if request.method == "POST" and form.is_valid():
        changed = form.apply(destination)
        if changed:
            with transaction.atomic():
                destination.save()
                audit(request, Action.CHANGE_DESTINATION, destination, changed=changed)
            logger.info(
                "destination %s: %s changed by user %s",
                destination.pk,
                ", ".join(changed),
                request.user.pk,
            )
        messages.success(request, f"{destination.name} is saved.")
        return redirect("destination-detail", pk=destination.pk)
    context = {"form": form, "kind": entry, "destination": destination}
    return render(
        request, "outbound/destination_form.html", context, status=400 if form.errors else 200
    )


@require_POST
@admin_required
def destination_active(request, pk):
    """Switch a destination off (nothing more is sent; the log stays) or on again."""
    destination = _destination(request, pk)
    wanted = request.POST.get("active") == "1"
    if destination.is_active != wanted:
        with transaction.atomic():
            destination.is_active = wanted
            destination.save(update_fields=["is_active", "updated_at"])
            audit(
                request, Action.CHANGE_DESTINATION, destination, changed=["active"], active=wanted
            )
    if wanted:
        messages.success(
            request, f"{destination.name} is active: new exams and reports are sent to it."
        )
    else:
        messages.success(
            request, f"{destination.name} is switched off: nothing is sent to it. Its log is kept."
        )
    return redirect("destination-detail", pk=destination.pk)


@require_POST
@admin_required
def destination_test(request, pk):
    """Run the kind's check (a C-ECHO, a round trip, a metadata read) and say the outcome."""
    destination = _destination(request, pk)
    entry = destination.kind_entry
    if entry is None:
        messages.error(request, f"No installed integration sends to {destination.kind!r}.")
        return redirect("destination-detail", pk=destination.pk)
    outcome = _run_test(entry, destination)
    logger.info("destination %s tested by user %s: %s", destination.pk, request.user.pk, outcome[0])
    if outcome[0] == "ok":
        messages.success(request, f"{destination.name} answered: {outcome[1]}")
    else:
        messages.error(request, f"{destination.name} did not pass the test: {outcome[1]}")
    return redirect("destination-detail", pk=destination.pk)


def _run_test(entry: kinds.Kind, destination: Destination) -> tuple[str, str]:
    """("ok", sentence) or ("failed", reason); never longer than ``TEST_TIMEOUT``.

    The check runs in a thread the page stops waiting for: a receiver that accepts the
    connection and never answers costs the admin 20 seconds, not the kind's timeouts.
    """
    result: dict = {}

    def check():
        try:
            result["ok"] = entry.test(destination)
        except kinds.DeliveryFailed as e:
            result["failed"] = str(e) or "the destination refused the test"
        except Exception as e:  # noqa: BLE001 - the page says it; the log has the detail
            logger.exception("testing destination %s failed", destination.pk)
            result["failed"] = f"the test could not run ({type(e).__name__})"
        finally:
            close_old_connections()

    thread = threading.Thread(target=check, name=f"destination-test-{destination.pk}", daemon=True)
    thread.start()
    thread.join(TEST_TIMEOUT.total_seconds())
    if thread.is_alive():
        seconds = int(TEST_TIMEOUT.total_seconds())
        return "failed", f"no answer within {seconds} seconds."
    if "ok" in result:
        return "ok", clean_text(result["ok"] or "it answers.", max_length=500)
    return "failed", clean_text(result.get("failed", ""), max_length=500)


@admin_required
def destination_remove(request, pk):
    """GET: what removing would delete, and the switch-off instead; POST: remove."""
    destination = _destination(request, pk)
    logged = destination.transmissions.count()
    if request.method == "POST":
        name = destination.name
        with transaction.atomic():
            audit(
                request,
                Action.REMOVE_DESTINATION,
                destination,
                name=name,
                kind=destination.kind,
                deliveries_removed=logged,
            )
            destination.delete()
        logger.info(
            "destination %s removed by user %s with %s deliveries", pk, request.user.pk, logged
        )
        messages.success(request, f"{name} is removed, with its {_deliveries(logged)}.")
        return redirect("destination-list")
    sent = destination.transmissions.filter(state=Transmission.State.SENT).count()
    context = {"destination": destination, "logged": logged, "sent": sent}
    return render(request, "outbound/destination_remove.html", context)


def _deliveries(n: int) -> str:
    return f"{n} logged deliver{'y' if n == 1 else 'ies'}"


@admin_required
def destination_detail(request, pk):
    destination = _destination(request, pk)
    form = LogFilterForm(request.GET)
    filters = form.filters()
    rows = _filtered(request, destination, filters)
    try:
        page = paginate(
            rows.select_related("exam", "exam__patient", "capture", "report"),
            KEYS,
            size=PAGE_SIZE,
            after=request.GET.get("after"),
            before=request.GET.get("before"),
        )
    except BadCursor as error:
        return bad_cursor_page(request, error)
    for row in page.rows:
        row.destination = destination  # the page's own: no query per row
        row.words = status.row_words(row)
        row.exam_label = audit_display.exam_label(row.exam)
        row.object_words = _object_words(row)
    counts = status.health_counts([destination])[destination.pk]
    context = {
        "destination": destination,
        "kind": destination.kind_entry,
        "form": form,
        "page": page,
        "page_links": page_links(request.GET, page),
        "counts": counts,
        "failed": counts.get(Transmission.State.FAILED, 0),
        # The filters a resend goes back to.
        "back": {key: form.data[key] for key in filters},
    }
    return render(
        request, "outbound/destination_detail.html", context, status=400 if form.errors else 200
    )


def _filtered(request, destination, filters: dict):
    rows = scoped_to_request(Transmission, request).filter(destination=destination)
    if filters.get("state"):
        rows = rows.filter(state=filters["state"])
    if filters.get("what"):
        rows = rows.filter(what=filters["what"])
    if text := (filters.get("q") or "").strip():
        exams = scoped_to_request(Exam, request)
        match = patient_search(text)
        if text.isascii() and text.isdigit() and len(text) < 19:
            match |= Q(pk=int(text))
        rows = rows.filter(exam__in=exams.filter(match).values("pk"))
    if filters.get("date_from"):
        rows = rows.filter(created_at__gte=start_of_day(filters["date_from"]))
    if filters.get("date_to"):
        rows = rows.filter(created_at__lt=start_of_day(filters["date_to"] + timedelta(days=1)))
    return rows


def _object_words(row: Transmission) -> str:
    if row.report_id:
        return f"Report, version {row.report.version} ({row.get_result_status_display().lower()})"
    if row.capture_id:
        return f"{row.get_what_display()} {row.capture.position + 1}"
    return row.get_what_display()


@require_POST
@admin_required
def destination_resend(request, pk):
    """Send again now: one row (``transmission``) or every failed row (``failed=1``)."""
    destination = _destination(request, pk)
    rows = scoped_to_request(Transmission, request).filter(destination=destination)
    one = request.POST.get("transmission", "")
    if one:
        if not (one.isascii() and one.isdigit() and 0 < int(one) <= LARGEST_ID):
            raise Http404("No such delivery")
        row = rows.filter(pk=int(one)).first()
        if row is None:
            raise Http404("No such delivery")
        chosen = rows.filter(pk=row.pk)
        detail = {"transmission": row.pk, "exam": row.exam_id}
    elif request.POST.get("failed") == "1":
        chosen = rows.filter(state=Transmission.State.FAILED)
        detail = {"failed": True}
    else:
        messages.error(request, "Choose a delivery to send again.")
        return redirect("destination-detail", pk=destination.pk)
    if not destination.is_active:
        messages.error(request, f"{destination.name} is switched off: switch it on to send again.")
        return redirect("destination-detail", pk=destination.pk)
    with transaction.atomic():
        n = sending.resend(chosen)
        if n:
            audit(request, Action.RESEND_DELIVERIES, destination, resent=n, **detail)
    if n:
        messages.success(request, f"Sending {_deliveries(n).replace('logged ', '')} again now.")
    else:
        messages.info(
            request, "Nothing to send again (a delivery being sent right now is left alone)."
        )
    return redirect(_back(request, destination))


def _back(request, destination) -> str:
    """Back to the log as it was filtered (the filter's own keys, when they are valid)."""
    back = LogFilterForm({k: request.POST.get("back_" + k, "") for k in LogFilterForm.base_fields})
    keep = {k: back.data[k] for k in back.filters()}
    url = reverse("destination-detail", args=[destination.pk])
    return f"{url}?{urlencode(keep)}" if keep else url
