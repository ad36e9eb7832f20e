from django import forms

from portal.notifications.models import NotificationPreference
from portal.tenants.models import Membership
from portal.tenants.roles import REVIEWING_ROLES


class PreferenceForm(forms.ModelForm):
    """A member's choices: only the kinds their role can receive are offered."""

    class Meta:
        model = NotificationPreference
        fields = ["new_exam", "feedback_signed", "exams_unlinked", "ingestion_failing"]
        labels = {
            "new_exam": "New exams to review",
            "feedback_signed": "Email me when feedback on an exam I performed is signed",
            "exams_unlinked": "Email me when exams wait for a member's Clarius link",
            "ingestion_failing": "Email me when exams have failed to arrive for a day",
        }
        help_texts = {
            "new_exam": "By email and in your inbox: for each exam, once a day, or never.",
        }

    def __init__(self, *args, membership, **kwargs):
        super().__init__(*args, **kwargs)
        if membership.role not in REVIEWING_ROLES:
            del self.fields["new_exam"]
        if membership.role != Membership.Role.ADMIN:
            del self.fields["exams_unlinked"]
            del self.fields["ingestion_failing"]
