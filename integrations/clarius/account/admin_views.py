"""The service account's pages in Django admin, for superusers only: API keys, service
settings and the webhook secret, Clarius' notification records, annotation presets.

Each page is a function view ``(request, model_admin)``; ``admin.py`` mounts them on the
admin's Clarius section. They read Clarius live: Clarius is the truth about the account.
"""

from __future__ import annotations

from contextlib import closing
from functools import wraps

from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from integrations.clarius import clients
from integrations.clarius.account import keys, presets, records, rotation
from integrations.clarius.account import service_settings as account
from integrations.clarius.account.registration import active_endpoint
from integrations.clarius.api.errors import ClariusError, NotFound
from integrations.clarius.api.explain import vendor_reason
from integrations.clarius.forms import (
    AnnotationFormSet,
    IngestRecordForm,
    KeyCreateForm,
    KeyRevokeForm,
    KeyRotateForm,
    annotation_initial,
)
from integrations.clarius.models import NotificationEndpoint, PresetChange, ServiceApiKey

CLARIUS_TROUBLE = (ClariusError, ImproperlyConfigured)


def superuser_only(view):
    """The account acts for every tenant at once: staff is not enough."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_superuser:
            raise PermissionDenied("Superusers only")
        return view(request, *args, **kwargs)

    return wrapped


def show(request, model_admin, template, title, **context):
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        **context,
    }
    return render(request, template, context)


def back_to(model_admin, name="changelist", *args):
    opts = model_admin.model._meta
    return redirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=args))


def trouble(error) -> str:
    if isinstance(error, ClariusError):
        return f"Clarius: {vendor_reason(error)}"
    return str(error)


# --- API keys -------------------------------------------------------------------------------


@superuser_only
def keys_page(request, model_admin):
    rows, error = [], None
    try:
        with closing(clients.service_client()) as client:
            rows = keys.list_keys(client)
    except CLARIUS_TROUBLE as e:
        error = trouble(e)
    return show(
        request,
        model_admin,
        "admin/clarius/keys.html",
        "Clarius API keys",
        rows=rows,
        error=error,
        stored=ServiceApiKey.objects.all()[:50],
        create_form=KeyCreateForm(),
        rotate_form=KeyRotateForm(),
    )


@require_POST
@superuser_only
def key_create(request, model_admin):
    form = KeyCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A new key needs a name (at most 100 characters).")
        return back_to(model_admin)
    try:
        with closing(clients.service_client()) as client:
            created = keys.create_key(client, form.cleaned_data["name"])
    except CLARIUS_TROUBLE as e:
        messages.error(request, f"No key was created. {trouble(e)}")
        return back_to(model_admin)
    response = show(
        request, model_admin, "admin/clarius/key_created.html", "New API key", created=created
    )
    response["Cache-Control"] = "no-store"  # the one page that shows a whole key
    return response


@require_POST
@superuser_only
def key_rotate(request, model_admin):
    form = KeyRotateForm(request.POST)
    name = form.cleaned_data["name"] if form.is_valid() else ""
    try:
        report = rotation.rotate(name or None)
    except (keys.KeyRefused, *CLARIUS_TROUBLE) as e:
        messages.error(request, f"Rotation did not start: {trouble(e)}")
        return back_to(model_admin)
    level = messages.SUCCESS if report.ok else messages.ERROR
    for line in report.steps:
        messages.add_message(request, level, line)
    return back_to(model_admin)


@require_POST
@superuser_only
def key_revoke(request, model_admin):
    form = KeyRevokeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That is not a key prefix.")
        return back_to(model_admin)
    prefix = form.cleaned_data["prefix"]
    try:
        with closing(clients.service_client()) as client:
            keys.revoke_key(client, prefix)
    except keys.KeyRefused as e:
        messages.error(request, str(e))
    except CLARIUS_TROUBLE as e:
        messages.error(request, trouble(e))
    else:
        messages.success(request, f"Revoked {prefix}.*** at Clarius.")
    return back_to(model_admin)


# --- settings and the webhook secret -----------------------------------------------------------


@superuser_only
def settings_page(request, model_admin):
    rows, error = [], None
    try:
        with closing(clients.service_client()) as client:
            rows = account.compare_settings(client)
    except CLARIUS_TROUBLE as e:
        error = trouble(e)
    endpoint = active_endpoint()
    return show(
        request,
        model_admin,
        "admin/clarius/settings.html",
        "Clarius service settings",
        rows=rows,
        error=error,
        all_match=bool(rows) and all(row.matches for row in rows),
        endpoint=endpoint,
        retired=NotificationEndpoint.objects.filter(is_active=False).count(),
    )


@require_POST
@superuser_only
def settings_register(request, model_admin):
    try:
        with closing(clients.service_client()) as client:
            account.register(client)
    except CLARIUS_TROUBLE as e:
        messages.error(request, f"Not registered. {trouble(e)}")
    else:
        messages.success(request, "Registered this portal's URLs with Clarius.")
    return back_to(model_admin)


@require_POST
@superuser_only
def settings_rotate_secret(request, model_admin):
    try:
        with closing(clients.service_client()) as client:
            account.rotate_webhook_secret(client)
    except CLARIUS_TROUBLE as e:
        messages.error(request, f"Nothing changed; the webhook URL is the same. {trouble(e)}")
    else:
        messages.success(
            request, "New webhook secret registered with Clarius; the old URL now answers 404."
        )
    return back_to(model_admin)


# --- notification records ---------------------------------------------------------------------


@superuser_only
def records_page(request, model_admin):
    try:
        number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        number = 1
    failures = request.GET.get("failures") == "1"
    rows, more, error = [], False, None
    try:
        with closing(clients.service_client()) as client:
            rows, more = records.record_rows(
                client,
                offset=(number - 1) * records.PAGE_SIZE,
                limit=records.PAGE_SIZE,
                failures_only=failures,
            )
    except CLARIUS_TROUBLE as e:
        error = trouble(e)
    return show(
        request,
        model_admin,
        "admin/clarius/records.html",
        "Clarius notification records",
        rows=rows,
        error=error,
        page=number,
        more=more,
        failures=failures,
        query="failures=1&" if failures else "",
    )


@require_POST
@superuser_only
def records_ingest(request, model_admin):
    form = IngestRecordForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That is not a request UUID.")
        return back_to(model_admin)
    request_uuid = str(form.cleaned_data["request_uuid"])
    try:
        with closing(clients.service_client()) as client:
            counts = records.ingest(client, request_uuid)
    except records.CannotIngest as e:
        messages.error(request, str(e))
    except CLARIUS_TROUBLE as e:
        messages.error(request, trouble(e))
    else:
        if counts["new"]:
            messages.success(
                request, f"Request {request_uuid} recorded; its exam is being fetched."
            )
        else:
            messages.warning(
                request,
                f"Request {request_uuid} recorded; it waits until its Clarius account is linked.",
            )
    return back_to(model_admin)


# --- annotation presets -----------------------------------------------------------------------


@superuser_only
def presets_page(request, model_admin):
    rows, error = [], None
    try:
        with closing(clients.service_client()) as client:
            rows = presets.applications(client)
    except CLARIUS_TROUBLE as e:
        error = trouble(e)
    history = PresetChange.objects.select_related("changed_by")[:20]
    return show(
        request,
        model_admin,
        "admin/clarius/presets.html",
        "Annotation presets",
        rows=rows,
        error=error,
        history=history,
    )


@superuser_only
def preset_edit(request, model_admin, application_uuid):
    try:
        with closing(clients.service_client()) as client:
            current = presets.current(client, application_uuid)
            formset = AnnotationFormSet(
                request.POST or None, initial=annotation_initial(current.annotations)
            )
            if request.method == "POST" and formset.is_valid():
                presets.save(
                    client, application_uuid, formset.groups, user=request.user, via="admin"
                )
                messages.success(request, f"Saved the presets of {current.name} at Clarius.")
                return back_to(model_admin, "edit", application_uuid)
    except NotFound:
        messages.error(request, "Clarius has no such application.")
        return back_to(model_admin)
    except CLARIUS_TROUBLE as e:
        messages.error(request, f"Nothing was saved. {trouble(e)}")
        return back_to(model_admin)
    return show(
        request,
        model_admin,
        "admin/clarius/preset_edit.html",
        f"Annotation presets: {current.name}",
        application=current,
        formset=formset,
    )


@require_POST
@superuser_only
def preset_reset(request, model_admin, application_uuid):
    try:
        with closing(clients.service_client()) as client:
            presets.reset(client, application_uuid, user=request.user, via="admin")
    except NotFound:
        messages.error(request, "Clarius has no such application.")
    except CLARIUS_TROUBLE as e:
        messages.error(request, f"Nothing was reset. {trouble(e)}")
    else:
        messages.success(request, "Reset: the application has no presets of this service now.")
    return back_to(model_admin)
