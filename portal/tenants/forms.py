from django import forms
from django.contrib.auth import get_user_model, password_validation

from portal.accounts.addresses import NormalisedEmailField, normalise_email
from portal.sso import conf as sso_conf
from portal.tenants.models import (
    Institution,
    Membership,
    default_time_zone,
    validate_time_zone,
)
from portal.tenants.timezones import zone_names
from portal.text import clean_text

# The attestation statement is printed on reports: a paragraph, not a document.
ATTESTATION_LENGTH = 2000


class InvitationForm(forms.Form):
    email = NormalisedEmailField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "off"})
    )
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.CLINICIAN)

    def __init__(self, *args, institution, **kwargs):
        super().__init__(*args, **kwargs)
        self.institution = institution

    def clean_email(self):
        email = self.cleaned_data["email"]
        members = Membership.objects.for_institution(self.institution)
        if members.filter(user__email=email).exists():
            raise forms.ValidationError(
                "This person is already a member; change their role in the list instead."
            )
        return email


class InstitutionSettingsForm(forms.ModelForm):
    """What an institution's administrator sets for it (the rest is the superusers')."""

    time_zone = forms.ChoiceField(
        label="Time zone",
        help_text="Pages, report PDFs and exports show times in this zone, with its "
        "abbreviation; the API answers in UTC.",
    )
    attestation_statement = forms.CharField(
        label="Attestation statement",
        max_length=ATTESTATION_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What an attending affirms when attesting a trainee's worksheet; it is "
        f"printed on the attested report ({ATTESTATION_LENGTH} characters at most).",
    )

    class Meta:
        model = Institution
        fields = [
            "idle_timeout_minutes",
            "time_zone",
            "attestation_statement",
            "hold_trainee_reports",
            "email_patient_identifiers",
            "password_sign_in",
            "require_second_factor",
            "media_retention_days",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        names = zone_names()
        # The saved zone stays choosable even when it is an older alias (e.g. "GMT").
        for extra in {self.instance.time_zone, default_time_zone()} - {""}:
            if extra not in names:
                names.append(extra)
        self.fields["time_zone"].choices = [(name, name) for name in names]
        if not sso_conf.enabled():
            # Without single sign-on, members turned away from passwords could not sign in.
            del self.fields["password_sign_in"]
        self.fields["hold_trainee_reports"].help_text = (
            "A report of an exam signed by a trainee goes out only once an attending "
            "attests it; otherwise it goes out marked preliminary."
        )

    def clean_time_zone(self):
        value = self.cleaned_data["time_zone"]
        validate_time_zone(value)
        return value

    def clean_attestation_statement(self):
        text = clean_text(self.cleaned_data["attestation_statement"], multiline=True).strip()
        if not text:
            raise forms.ValidationError("Write the statement an attending affirms.")
        return text


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class TraineeForm(forms.Form):
    trainee = forms.ChoiceField(choices=[("1", "Trainee"), ("0", "Not a trainee")])


class QARoleForm(forms.Form):
    """Give or take one QA role (the members page's buttons)."""

    role = forms.ChoiceField(choices=[("is_qa_reviewer", "QA reviewer"), ("is_qa_lead", "QA lead")])
    value = forms.ChoiceField(choices=[("1", "Yes"), ("0", "No")])


class JoinForm(forms.Form):
    """A new person's account, made from an invitation: the email is the invited one."""

    full_name = forms.CharField(label="Your name", max_length=150)
    password1 = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email, **kwargs):
        super().__init__(*args, **kwargs)
        self.email = email

    def clean(self):
        cleaned = super().clean()
        if get_user_model().objects.filter(email=normalise_email(self.email)).exists():
            # Someone made the account since the page was shown: log in instead.
            raise forms.ValidationError(
                "An account for this address exists now: log in with it to accept."
            )
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", "The two passwords differ.")
        elif password1:
            # Checked against an unsaved user so "similar to your email" is caught too.
            user = get_user_model()(email=self.email, full_name=cleaned.get("full_name", ""))
            try:
                password_validation.validate_password(password1, user)
            except forms.ValidationError as e:
                self.add_error("password1", e)
        return cleaned

    def save(self):
        return get_user_model().objects.create_user(
            email=self.email,
            password=self.cleaned_data["password1"],
            full_name=self.cleaned_data["full_name"],
        )
