from django import forms
from django.contrib.auth.forms import AuthenticationForm

from portal.accounts.addresses import NormalisedEmailField
from portal.accounts.models import User
from portal.sso import password as password_sign_in
from portal.text import clean_text


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

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        # An institution that signs its members in through the identity provider only.
        password_sign_in.confirm_allowed(self.request, user, self.cleaned_data.get("username"))


class PasswordResetRequestForm(forms.Form):
    """Only the address: whether it has an account is found out later, by the worker."""

    email = NormalisedEmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )


class ProfileForm(forms.ModelForm):
    """What each person says about themself: their name and their credentials, both
    printed on the reports they sign."""

    class Meta:
        model = User
        fields = ["full_name", "credentials"]
        labels = {"full_name": "Your name", "credentials": "Credentials"}
        help_texts = {
            "full_name": "As it should appear on reports you sign.",
            "credentials": "Printed after your name on signed reports, e.g. “MD, RDMS” "
            "(100 characters at most).",
        }

    @staticmethod
    def _line(value: str) -> str:
        # One line, the controls and direction overrides gone, spaces folded.
        return " ".join(clean_text(value).split())

    def clean_full_name(self):
        return self._line(self.cleaned_data["full_name"])

    def clean_credentials(self):
        return self._line(self.cleaned_data["credentials"])
