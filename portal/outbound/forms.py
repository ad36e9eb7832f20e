"""The destination form, built from a registered kind's options, and the log's filters.

The core names no protocol: each ``kinds.Option`` becomes one field (text, whole
number, yes/no, web address) under ``option_<name>``, so an option called like one of
the form's own fields cannot clash with it. The kind's secret is write-only: the form
says whether one is set, never shows it; a blank field keeps the stored one and
"clear" removes it.
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from portal.outbound import kinds
from portal.outbound.models import Destination, Transmission
from portal.text import has_unstorable

PREFIX = "option_"
SECRET_LIMIT = 4000  # a bearer token or client secret; longer is a paste gone wrong
LARGEST_INT = 2**31 - 1
# The log's date filter: days a delivery can have been made (and no overflow at year 9999).
EARLIEST, LATEST = date(2000, 1, 1), date(2999, 12, 31)


def _storable(value: str) -> str:
    # Django's CharField refuses NUL already; lone surrogates cannot be stored either.
    if has_unstorable(value):
        raise ValidationError("This holds a character that cannot be stored.")
    return value


def _is_port(option: kinds.Option) -> bool:
    return option.name == "port" or option.name.endswith("_port")


def option_field(option: kinds.Option) -> forms.Field:
    """The form field of one kind option, with the kind's own check of its value."""
    common = {"label": option.label, "help_text": option.help}
    if option.check is not None:
        common["validators"] = [_checked_by(option.check)]
    has_default = option.default is not None
    if option.type == "bool":
        return forms.BooleanField(required=False, initial=bool(option.default), **common)
    if option.type == "int":
        low, high = (1, 65535) if _is_port(option) else (0, LARGEST_INT)
        return forms.IntegerField(
            required=option.required and not has_default,
            min_value=low,
            max_value=high,
            initial=option.default,
            **common,
        )
    if option.type == "url":
        return forms.URLField(
            required=option.required and not has_default,
            max_length=option.max_length,
            assume_scheme="https",
            validators=[URLValidator(schemes=["http", "https"]), *common.pop("validators", [])],
            initial=option.default,
            error_messages={"invalid": "Enter an http:// or https:// address."},
            **common,
        )
    return forms.CharField(
        required=option.required and not has_default,
        max_length=option.max_length,
        initial=option.default,
        **common,
    )


def _checked_by(check):
    def validate(value):
        if value in (None, ""):
            return
        try:
            check(value)
        except ValueError as e:
            raise ValidationError(str(e)) from None

    return validate


class DestinationForm(forms.Form):
    """A destination of one kind: its name, what it takes, its settings and secret."""

    name = forms.CharField(
        max_length=100, help_text="What staff call it, e.g. “Main PACS” or “Hospital EHR”."
    )
    send_images = forms.BooleanField(
        required=False, initial=True, label="Send images and clips when the exam is ready"
    )
    send_report = forms.BooleanField(
        required=False,
        initial=True,
        label="Send the report when it is signed, and each new version after",
    )
    is_active = forms.BooleanField(
        required=False,
        initial=True,
        label="Active",
        help_text="A destination switched off is sent nothing; its log is kept.",
    )

    def __init__(self, *args, kind: kinds.Kind, instance: Destination | None = None, **kwargs):
        self.kind = kind
        self.instance = instance
        if instance is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_of(instance)
        super().__init__(*args, **kwargs)
        if not kind.carries & kinds.IMAGES:
            del self.fields["send_images"]
        if not kind.carries & kinds.REPORT:
            del self.fields["send_report"]
        options = {PREFIX + option.name: option_field(option) for option in kind.options}
        # The kind's settings come right after the name.
        fields = dict(list(self.fields.items())[:1]) | options | dict(list(self.fields.items())[1:])
        self.fields = fields
        if kind.secret_label:
            is_set = bool(instance and instance.secret_encrypted)
            self.fields["secret"] = forms.CharField(
                label=kind.secret_label,
                required=False,
                strip=True,
                max_length=SECRET_LIMIT,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                help_text=(
                    "Set. Leave blank to keep it, or type a new one to replace it."
                    if is_set
                    else "Not set."
                ),
            )
            if is_set:
                self.fields["clear_secret"] = forms.BooleanField(
                    required=False, label=f"Clear the {kind.secret_label.lower()}"
                )
        for field in self.fields.values():
            if isinstance(field, forms.CharField):
                field.validators.append(_storable)

    @staticmethod
    def initial_of(destination: Destination) -> dict:
        initial = {
            "name": destination.name,
            "send_images": destination.send_images,
            "send_report": destination.send_report,
            "is_active": destination.is_active,
        }
        for name, value in (destination.options or {}).items():
            initial[PREFIX + name] = value
        return initial

    def clean(self):
        data = super().clean()
        wants = [f for f in ("send_images", "send_report") if f in self.fields]
        if wants and not any(data.get(f) for f in wants) and not self.errors:
            raise ValidationError(
                "Choose what the destination gets: the images, the report, or both."
            )
        return data

    def options(self) -> dict:
        """The kind's settings, as ``Destination.options`` keeps them."""
        values = {}
        for option in self.kind.options:
            value = self.cleaned_data.get(PREFIX + option.name)
            if isinstance(value, str):
                value = value.strip()
            if value in (None, "") and option.type != "bool":
                if option.default is None:
                    continue
                value = option.default
            values[option.name] = value
        return values

    def apply(self, destination: Destination) -> list[str]:
        """Put the cleaned values on ``destination`` (unsaved); the names of what changed,
        in words for the audit log (never a value: the secret, or a host, stays out)."""
        changed = []
        data = self.cleaned_data

        def put(attribute, value, word):
            if getattr(destination, attribute) != value:
                setattr(destination, attribute, value)
                changed.append(word)

        put("name", data["name"].strip(), "name")
        put("options", self.options(), "settings")
        put("send_images", bool(data.get("send_images")), "send images")
        put("send_report", bool(data.get("send_report")), "send report")
        put("is_active", bool(data.get("is_active")), "active")
        if self.kind.secret_label:
            if data.get("clear_secret"):
                if destination.secret_encrypted:
                    destination.secret = ""
                    changed.append("secret cleared")
            elif data.get("secret"):
                destination.secret = data["secret"]
                changed.append("secret replaced" if self.instance else "secret set")
        return changed


class LogFilterForm(forms.Form):
    """The destination page's filters; every field optional, each checked as hostile."""

    state = forms.ChoiceField(
        required=False, choices=[("", "Any state"), *Transmission.State.choices]
    )
    what = forms.ChoiceField(
        required=False, label="Object", choices=[("", "Anything"), *Transmission.What.choices]
    )
    q = forms.CharField(
        required=False,
        max_length=100,
        label="Exam or patient",
        help_text="The patient's name or ID, or the exam's number.",
        validators=[_storable],
    )
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput({"type": "date"})
    )
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput({"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        for day in (start, end):
            if day and not EARLIEST <= day <= LATEST:
                raise ValidationError(f"Choose days between {EARLIEST.year} and {LATEST.year}.")
        if start and end and start > end:
            raise ValidationError("The first day is after the last.")
        return data

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
