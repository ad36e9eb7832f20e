"""Credentialing pages: each operator's progress toward privileges, grants, the letter
and the log.

- ``/qa/credentialing/``: a member sees their own progress; QA leads and administrators
  see the whole department (operator × exam type), filtered, sorted and paged.
- ``/qa/credentialing/<user_id>/``: one operator's progress and QA feedback history, for
  themselves and for QA leads and administrators (anyone else: 404, like another
  institution's member).
- Grants and revocations by administrators only, each with a note, in the audit log.
- ``letter.pdf``: the credentialing letter; ``log.csv``: every scored first read and
  every grant, streamed, for the medical staff office. Both are in the audit log.
"""

from __future__ import annotations

import csv
import datetime

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal.dashboard.audit_log import Echo, safe_cell
from portal.exams.access import audit
from portal.exams.models import AuditEvent
from portal.qa import credentialing, letter
from portal.qa.access import is_qa_lead, member_required, qa_lead_required
from portal.qa.models import Credential, QAReview
from portal.tenants.models import Membership
from portal.tenants.roles import admin_required, is_admin
from portal.tenants.scoping import scoped_to_request
from portal.tenants.timezones import iso_local, zone_of
from portal.worksheets.models import ExamType

PAGE_SIZE = 50
# The largest id any database compares (a larger one in the URL is no member, not an error).
MAX_ID = 2**63
HISTORY_PAGE_SIZE = 25
STATUS_FILTERS = {
    "in_training": "In training",
    "credentialed": "Credentialed (any basis)",
    "count": "Credentialed by count",
    "grant": "Credentialed by a grant",
}
SORTS = {
    "operator": "operator",
    "exam_type": "exam type",
    "passed": "QA-passed exams, most first",
    "status": "status",
    "since": "date credentialed, newest first",
}


def _member_or_404(request, user_id) -> Membership:
    """The member ``user_id`` of the current institution, when the viewer may see their
    credentialing: themselves, or anyone for a QA lead or administrator."""
    viewer = request.membership
    if not 0 < user_id < MAX_ID:
        raise Http404("No such member")
    if user_id != request.user.pk and not is_qa_lead(viewer):
        raise Http404("Your own credentialing only")
    member = (
        scoped_to_request(Membership, request).select_related("user").filter(user_id=user_id)
    ).first()
    if member is None:
        raise Http404("No such member in this institution")
    return member


def _page_number(request, name="page") -> int:
    value = request.GET.get(name, "1")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 7 else 1


@member_required
def credentialing_progress(request):
    institution_id = request.institution.pk
    if not is_qa_lead(request.membership):
        mine = credentialing.operator_progress(institution_id, request.user)
        return render(
            request,
            "qa/credentialing_mine.html",
            {"progress": mine, "subject": request.user, "is_self": True},
        )
    everyone = credentialing.progress(institution_id)
    exam_types = everyone[0].types if everyone else []
    chosen_type = request.GET.get("exam_type", "")
    chosen_status = request.GET.get("status", "")
    sort = request.GET.get("sort", "operator")
    if sort not in SORTS:
        sort = "operator"
    rows = [(row, cell) for row in everyone for cell in row.types]
    if chosen_type and any(t.exam_type.code == chosen_type for t in exam_types):
        rows = [r for r in rows if r[1].exam_type.code == chosen_type]
    else:
        chosen_type = ""
    if chosen_status in STATUS_FILTERS:
        rows = [r for r in rows if _status_matches(r[1], chosen_status)]
    else:
        chosen_status = ""
    rows = _sorted(rows, sort)
    paginator = Paginator(rows, PAGE_SIZE)
    page = paginator.get_page(_page_number(request))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "page": page,
        "exam_types": [t.exam_type for t in exam_types],
        "status_filters": STATUS_FILTERS,
        "sorts": SORTS,
        "chosen_type": chosen_type,
        "chosen_status": chosen_status,
        "sort": sort,
        "sort_words": SORTS[sort],
        "query": query.urlencode(),
        "operators": len(everyone),
        "filtered": bool(chosen_type or chosen_status),
        "can_grant": is_admin(request),
    }
    return render(request, "qa/credentialing_department.html", context)


def _status_matches(cell, wanted: str) -> bool:
    if wanted == "credentialed":
        return cell.is_credentialed
    return cell.status == wanted


def _sorted(rows, sort: str):
    def name(row):
        user = row[0].user
        return ((user.get_full_name() or user.email).casefold(), user.pk)

    if sort == "exam_type":
        return sorted(rows, key=lambda r: (r[1].exam_type.name.casefold(), name(r)))
    if sort == "passed":
        return sorted(rows, key=lambda r: (-r[1].passed, name(r)))
    if sort == "status":
        order = {credentialing.IN_TRAINING: 0, credentialing.BY_COUNT: 1, credentialing.BY_GRANT: 2}
        return sorted(rows, key=lambda r: (order[r[1].status], name(r)))
    if sort == "since":
        never = datetime.datetime.min.replace(tzinfo=datetime.UTC)
        return sorted(rows, key=lambda r: (r[1].since or never, *name(r)), reverse=True)
    return sorted(rows, key=lambda r: (*name(r), r[1].exam_type.name.casefold()))


@member_required
def credentialing_member(request, user_id):
    member = _member_or_404(request, user_id)
    institution_id = request.institution.pk
    mine = credentialing.operator_progress(institution_id, member.user)
    history = Paginator(
        credentialing.first_reads_of(institution_id, member.user_id), HISTORY_PAGE_SIZE
    ).get_page(_page_number(request, "history"))
    context = {
        "progress": mine,
        "subject": member.user,
        "member": member,
        "is_self": member.user_id == request.user.pk,
        "history": history,
        "show_reviewer": is_qa_lead(request.membership),
        "can_grant": is_admin(request),
        "grantable": [t for t in mine.types if not t.is_credentialed and t.exam_type.is_active],
        "grants": [t for t in mine.types if t.status == credentialing.BY_GRANT],
        "note_limit": credentialing.NOTE_LIMIT,
    }
    return render(request, "qa/credentialing_member.html", context)


def _exam_type_or_none(request, value):
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 12:
        return None
    return scoped_to_request(ExamType, request).filter(pk=int(value)).first()


@admin_required
@require_POST
def grant_credential(request, user_id):
    member = _member_or_404(request, user_id)
    exam_type = _exam_type_or_none(request, request.POST.get("exam_type"))
    back = reverse("qa-credentialing-member", args=[member.user_id])
    if exam_type is None:
        return _refused(request, member, "Choose one of the institution's exam types.")
    try:
        credential = credentialing.grant(
            request.institution.pk,
            member.user,
            exam_type,
            request.user,
            request.POST.get("note", ""),
        )
    except credentialing.CredentialRefused as error:
        return _refused(request, member, str(error), status=409 if error.conflict else 400)
    audit(
        request,
        AuditEvent.Action.GRANT_CREDENTIAL,
        credential,
        user=member.user_id,
        exam_type=exam_type.code,
        note=credential.note,
    )
    messages.success(request, f"Credentialed for {exam_type.name} by your grant.")
    return redirect(back)


@admin_required
@require_POST
def revoke_credential(request, user_id):
    member = _member_or_404(request, user_id)
    exam_type = _exam_type_or_none(request, request.POST.get("exam_type"))
    back = reverse("qa-credentialing-member", args=[member.user_id])
    if exam_type is None:
        return _refused(request, member, "Choose one of the institution's exam types.")
    try:
        removed, earned = credentialing.revoke(
            request.institution.pk, member.user, exam_type, request.POST.get("reason", "")
        )
    except credentialing.CredentialRefused as error:
        return _refused(request, member, str(error), status=409 if error.conflict else 400)
    audit(
        request,
        AuditEvent.Action.REVOKE_CREDENTIAL,
        removed,
        user=member.user_id,
        exam_type=exam_type.code,
        note=removed.note,
        reason=credentialing.clean_text(request.POST.get("reason", ""), max_length=2000),
        credentialed_by_count=earned is not None,
    )
    text = f"The grant for {exam_type.name} is revoked."
    if earned is not None:
        text += " They have reached the threshold by count, so they stay credentialed."
    messages.success(request, text)
    return redirect(back)


def _refused(request, member, message: str, status: int = 400):
    """A refused form: the operator's page again with the reason, and a 4xx status."""
    messages.error(request, message)
    response = credentialing_member(request, member.user_id)
    response.status_code = status
    return response


@member_required
def credentialing_letter(request, user_id):
    member = _member_or_404(request, user_id)
    mine = credentialing.operator_progress(request.institution.pk, member.user)
    pdf = letter.render_letter(request.institution, mine, issued_at=timezone.now())
    audit(
        request,
        AuditEvent.Action.EXPORT_CREDENTIALS,
        member,
        user=member.user_id,
        what="letter",
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    name = f"credentialing-letter-{member.user_id}-{timezone.localdate():%Y%m%d}.pdf"
    response["Content-Disposition"] = f'inline; filename="{name}"'
    return response


CSV_HEADER = [
    "record",
    "date",
    "operator",
    "operator_email",
    "exam_type",
    "exam_id",
    "accession",
    "reason",
    "image_quality",
    "interpretation",
    "passed",
    "reviewer",
    "note",
    "time_zone",
]


def csv_rows(institution_id, zone):
    """The credentialing log's lines: every scored first read, oldest first, then every
    grant. Read in chunks: 50,000 reviews never sit in memory at once."""
    zone_name = getattr(zone, "key", None) or str(zone)
    writer = csv.writer(Echo())
    yield writer.writerow(CSV_HEADER)
    reasons = dict(QAReview.Reason.choices)
    interpretations = dict(QAReview._meta.get_field("interpretation").choices)
    reviews = (
        QAReview.objects.filter(
            institution_id=institution_id,
            read=QAReview.FIRST_READ,
            state=QAReview.State.DONE,
        )
        .order_by("scored_at", "id")
        .values_list(
            "scored_at",
            "operator__full_name",
            "operator__email",
            "exam_type__name",
            "exam_id",
            "exam__patient__extra__accession_number",
            "reason",
            "image_quality",
            "interpretation",
            "passed",
            "scored_by__email",
        )
    )
    for (
        scored_at,
        name,
        email,
        type_name,
        exam_id,
        accession,
        reason,
        quality,
        interpretation,
        passed,
        reviewer,
    ) in reviews.iterator(chunk_size=2000):
        row = [
            "qa_review",
            iso_local(scored_at, zone),
            name or "",
            email or "",
            type_name or "",
            exam_id,
            accession if isinstance(accession, str | int) else "",
            reasons.get(reason, reason),
            quality or "",
            interpretations.get(interpretation, interpretation),
            "yes" if passed else "no",
            reviewer or "",
            "",
            zone_name,
        ]
        yield writer.writerow([safe_cell(cell) for cell in row])
    grants = (
        Credential.objects.filter(institution_id=institution_id, basis=Credential.Basis.GRANT)
        .select_related("user", "exam_type", "granted_by")
        .order_by("since", "id")
    )
    for credential in grants.iterator(chunk_size=2000):
        row = [
            "grant",
            iso_local(credential.since, zone),
            credential.user.get_full_name(),
            credential.user.email,
            credential.exam_type.name,
            "",
            "",
            "",
            "",
            "",
            "",
            credential.granted_by.email if credential.granted_by else "",
            credential.note,
            zone_name,
        ]
        yield writer.writerow([safe_cell(cell) for cell in row])


@qa_lead_required
def credentialing_csv(request):
    # Recorded first, so the export is in the log even if the download is cut short.
    audit(request, AuditEvent.Action.EXPORT_CREDENTIALS, request.institution, what="log")
    name = f"credentialing-log-{request.institution.slug}-{timezone.localdate():%Y%m%d}.csv"
    rows = csv_rows(request.institution.pk, zone_of(request.institution))
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
