"""The institution admin's webhook pages: endpoints, their secret, their deliveries.

Admins of the current institution only (a 404 for anyone else); another institution's
endpoint or delivery is a 404 too. A secret is shown once, on the page that answers the
POST that made it, and never again.
"""

import logging
from datetime import timedelta

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from integrations.webhooks import endpoints
from integrations.webhooks.forms import EndpointForm, RotateForm
from integrations.webhooks.models import Delivery, Endpoint
from portal.tenants.roles import admin_required
from portal.tenants.scoping import get_scoped_or_404, scoped_to_request

logger = logging.getLogger(__name__)
DELIVERIES_SHOWN = 50


@admin_required
def endpoint_list(request):
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        endpoint, secret = endpoints.create(
            request.institution,
            form.cleaned_data["url"],
            form.cleaned_data["events"],
            description=form.cleaned_data["description"],
            user=request.user,
        )
        logger.info(
            "institution %s: webhook endpoint %s added by user %s",
            request.institution.slug,
            endpoint.pk,
            request.user.pk,
        )
        return _show_secret(request, endpoint, secret, status=201)
    context = {
        "endpoints": scoped_to_request(Endpoint, request),
        "form": form,
    }
    return render(
        request, "webhooks/endpoint_list.html", context, status=400 if form.errors else 200
    )


@admin_required
def endpoint_detail(request, pk):
    endpoint = get_scoped_or_404(Endpoint, request, pk=pk)
    initial = {"url": endpoint.url, "description": endpoint.description, "events": endpoint.events}
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        endpoints.update(
            endpoint,
            url=form.cleaned_data["url"],
            event_types=form.cleaned_data["events"],
            description=form.cleaned_data["description"],
        )
        messages.success(request, "The endpoint is saved.")
        return redirect("webhook-detail", pk=endpoint.pk)
    deliveries = (
        scoped_to_request(Delivery, request)
        .filter(endpoint=endpoint)
        .select_related("event")
        .order_by("-pk")[:DELIVERIES_SHOWN]
    )
    context = {
        "endpoint": endpoint,
        "form": form,
        "rotate_form": RotateForm(),
        "deliveries": deliveries,
        "overlap_active": len(endpoints.signing_secrets(endpoint)) > 1
        if endpoint.previous_secret_encrypted
        else False,
    }
    return render(
        request, "webhooks/endpoint_detail.html", context, status=400 if form.errors else 200
    )


@require_POST
@admin_required
def endpoint_rotate(request, pk):
    endpoint = get_scoped_or_404(Endpoint, request, pk=pk)
    form = RotateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The overlap is a number of hours between 0 and 168.")
        return redirect("webhook-detail", pk=endpoint.pk)
    secret = endpoints.rotate(endpoint, timedelta(hours=form.cleaned_data["overlap_hours"]))
    logger.info("webhook endpoint %s: secret rotated by user %s", endpoint.pk, request.user.pk)
    return _show_secret(request, endpoint, secret, rotated=True)


@require_POST
@admin_required
def endpoint_enable(request, pk):
    endpoint = get_scoped_or_404(Endpoint, request, pk=pk)
    endpoints.set_enabled(endpoint, True)
    messages.success(request, "The endpoint is enabled: new events are sent to it.")
    return redirect("webhook-detail", pk=endpoint.pk)


@require_POST
@admin_required
def endpoint_disable(request, pk):
    endpoint = get_scoped_or_404(Endpoint, request, pk=pk)
    endpoints.set_enabled(endpoint, False, f"Disabled by {request.user.email}.")
    messages.success(request, "The endpoint is disabled: nothing is sent to it.")
    return redirect("webhook-detail", pk=endpoint.pk)


@require_POST
@admin_required
def endpoint_remove(request, pk):
    endpoint = get_scoped_or_404(Endpoint, request, pk=pk)
    url = endpoint.url
    endpoint.delete()
    logger.info("webhook endpoint %s removed by user %s", pk, request.user.pk)
    messages.success(request, f"The endpoint {url} is removed, with its deliveries.")
    return redirect("webhook-list")


@require_POST
@admin_required
def delivery_redeliver(request, pk, delivery):
    endpoint = get_scoped_or_404(Endpoint, request, pk=pk)
    original = get_scoped_or_404(
        Delivery.objects.select_related("endpoint", "event"),
        request,
        pk=delivery,
        endpoint=endpoint,
    )
    try:
        endpoints.redeliver(original)
    except endpoints.EndpointRefused as e:
        messages.error(request, str(e))
    else:
        messages.success(
            request, f"{original.event.type} ({original.event.webhook_id}) is being sent again."
        )
    return redirect("webhook-detail", pk=endpoint.pk)


def _show_secret(request, endpoint, secret, *, status=200, rotated=False):
    response = render(
        request,
        "webhooks/secret.html",
        {"endpoint": endpoint, "secret": secret, "rotated": rotated},
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response
