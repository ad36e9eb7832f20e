"""The administrator's API keys page: make, list and revoke the institution's keys.

For the current institution's administrators only (a 404 for anyone else), through the
tenant rule: another institution's key is a 404. A new key's full text is in the answer
to the POST that made it and nowhere else (not in the session, not in a redirect, not in
the logs); the answer is marked ``no-store``.
"""

import logging

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from portal.accounts.throttle import client_ip
from portal.api import keys
from portal.api.models import ApiKey
from portal.tenants.models import Membership
from portal.tenants.roles import admin_required
from portal.tenants.scoping import get_scoped_or_404, scoped_to_request

logger = logging.getLogger(__name__)


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.user.email} ({obj.get_role_display().lower()})"


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=keys.NAME_MAX,
        help_text="What the key is for, e.g. “EHR bridge”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    scope = forms.ChoiceField(
        choices=ApiKey.Scope.choices,
        initial=ApiKey.Scope.READ,
        help_text="A read key can only read; a write key can also act (send reports…).",
    )
    member = MemberChoiceField(
        queryset=Membership.objects.none(),
        label="Acts as",
        help_text="The key sees and does what this member may, in this institution only.",
    )
    expires = forms.DateField(
        required=False,
        label="Expires",
        help_text="Optional: the key works through this day.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args, institution, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = (
            Membership.objects.for_institution(institution)
            .filter(user__is_active=True)
            .select_related("user")
            .order_by("user__email")
        )

    def clean_expires(self):
        day = self.cleaned_data.get("expires")
        if day is not None and day < timezone.localdate():
            raise forms.ValidationError("Pick today or a later day.")
        return day


@admin_required
def api_key_list(request):
    form = ApiKeyForm(request.POST or None, institution=request.institution)
    created = secret = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            created, secret = keys.create_key(
                data["member"],
                name=data["name"],
                scope=data["scope"],
                expires_at=keys.expiry_from_date(data["expires"]) if data["expires"] else None,
                created_by=request.user,
                ip_address=client_ip(request),
            )
        except keys.KeyInvalid as e:
            form.add_error(None, str(e))
        else:
            logger.info(
                "institution %s: API key %s created by user %s",
                request.institution.slug,
                created.shown_prefix,
                request.user.pk,
            )
            form = ApiKeyForm(institution=request.institution)
    context = {
        "form": form,
        "created": created,
        "secret": secret,
        "api_keys": scoped_to_request(ApiKey, request).select_related("user", "created_by"),
        "now": timezone.now(),
    }
    response = render(request, "tenants/api_keys.html", context, status=400 if form.errors else 200)
    if secret is not None:
        response["Cache-Control"] = "no-store"
    return response


@require_POST
@admin_required
def api_key_revoke(request, pk):
    key = get_scoped_or_404(ApiKey, request, pk=pk)
    if keys.revoke_key(key, by=request.user, ip_address=client_ip(request)):
        messages.success(request, f"The key “{key.name}” ({key.shown_prefix}) is revoked.")
    else:
        messages.info(request, f"The key “{key.name}” was already revoked.")
    return redirect("api-keys")
