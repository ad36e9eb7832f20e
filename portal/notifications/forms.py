from django import forms

from portal.notifications.models import NotificationPreference
from portal.qa.access import is_qa_lead, is_qa_reviewer
from portal.tenants.models import Membership
from portal.tenants.roles import REVIEWING_ROLES


class PreferenceForm(forms.ModelForm):
    """A member's choices: only the kinds their role can receive are offered."""

    class Meta:
        model = NotificationPreference
        fields = [
            "new_exam",
            "feedback_signed",
            "exams_unlinked",
            "ingestion_failing",
            "qa_feedback",
            "qa_assigned",
            "qa_overdue",
            "destination_failing",
        ]
        labels = {
            "new_exam": "New exams to review",
            "feedback_signed": "Email me when feedback on an exam I performed is signed",
            "exams_unlinked": "Email me when exams wait for a member's Clarius link",
            "ingestion_failing": "Email me when exams have failed to arrive for a day",
            "qa_feedback": "Email me the QA feedback on an exam I performed",
            "qa_assigned": "Email me when a QA review is assigned to me",
            "qa_overdue": "Email me once a day when QA reviews are overdue",
            "destination_failing": "Email me when a PACS or EHR destination has failed for a day",
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
            del self.fields["destination_failing"]
        # The QA program's emails: to QA reviewers and leads only (portal.qa.access).
        if not is_qa_reviewer(membership):
            del self.fields["qa_assigned"]
        if not is_qa_lead(membership):
            del self.fields["qa_overdue"]
