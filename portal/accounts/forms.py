from django import forms
from django.contrib.auth.forms import AuthenticationForm

from portal.accounts.addresses import NormalisedEmailField


class EmailAuthenticationForm(AuthenticationForm):
    """Django's login form (fields ``username`` and ``password``) labelled for email.

    The address is normalised before it reaches ``authenticate()``: the throttle and
    the account lookup see the same spelling.
    """

    username = NormalisedEmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )


class PasswordResetRequestForm(forms.Form):
    """Only the address: whether it has an account is found out later, by the worker."""

    email = NormalisedEmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
