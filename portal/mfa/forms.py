"""The codes a person types: checked for shape before any device is asked."""

import re

from django import forms
from django.core.exceptions import ValidationError

from portal.mfa.models import RECOVERY_CODE_LENGTH

_SPACES = re.compile(r"[\s-]+")


def _compact(value):
    return _SPACES.sub("", value or "")


class AppCodeForm(forms.Form):
    """The six digits an authenticator app shows."""

    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )

    def clean_code(self):
        code = _compact(self.cleaned_data["code"])
        if not re.fullmatch(r"[0-9]{6}", code):
            raise ValidationError("Enter the 6 digits your authenticator app shows.")
        return code


class RecoveryCodeForm(forms.Form):
    recovery_code = forms.CharField(
        label="Recovery code",
        max_length=30,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def clean_recovery_code(self):
        code = _compact(self.cleaned_data["recovery_code"]).lower()
        if not re.fullmatch(rf"[a-z2-7]{{{RECOVERY_CODE_LENGTH}}}", code):
            raise ValidationError(
                "A recovery code is 10 letters and digits, like abcde-fgh23 (from your list)."
            )
        return code


class NewAppForm(AppCodeForm):
    name = forms.CharField(
        label="Name (to tell your apps apart)",
        max_length=64,
        required=False,
        initial="Authenticator app",
    )


class ConfirmRemovalForm(forms.Form):
    """Removing a factor: the password again, or a code from an authenticator app."""

    password = forms.CharField(
        label="Your password", required=False, max_length=4096, widget=forms.PasswordInput
    )
    code = forms.CharField(
        label="Or a code from an authenticator app",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_code(self):
        code = _compact(self.cleaned_data["code"])
        if code and not re.fullmatch(r"[0-9]{6}", code):
            raise ValidationError("Enter the 6 digits your authenticator app shows.")
        return code

    def clean(self):
        from portal.mfa.services import apps_of

        data = super().clean()
        if self.errors:
            return data
        password, code = data.get("password"), data.get("code")
        if password and self.user.check_password(password):
            return data
        if code and any(app.verify_token(code) for app in apps_of(self.user)):
            return data
        if not password and not code:
            raise ValidationError("Enter your password, or a code from your authenticator app.")
        raise ValidationError("That password or code is not right.")
