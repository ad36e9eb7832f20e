from django import forms

from integrations.webhooks import endpoints
from integrations.webhooks.addresses import URL_LIMIT
from portal import events

EVENT_CHOICES = [(name, name) for name in events.EVENT_TYPES]


class EndpointForm(forms.Form):
    url = forms.CharField(
        label="URL",
        max_length=URL_LIMIT,
        help_text="Where the portal POSTs events: https://, on a public address.",
        widget=forms.URLInput(attrs={"placeholder": "https://partner.example/hooks/portal"}),
    )
    description = forms.CharField(max_length=200, required=False)
    events = forms.MultipleChoiceField(
        choices=EVENT_CHOICES, widget=forms.CheckboxSelectMultiple, label="Events"
    )

    def clean_url(self):
        url = self.cleaned_data["url"].strip()
        try:
            return endpoints.check_url(url)
        except endpoints.EndpointRefused as e:
            raise forms.ValidationError(str(e)) from None

    def clean_description(self):
        if "\x00" in self.cleaned_data["description"]:
            raise forms.ValidationError("The description contains a NUL character.")
        return self.cleaned_data["description"]


class RotateForm(forms.Form):
    overlap_hours = forms.IntegerField(
        label="Keep signing with the old secret for (hours)",
        min_value=0,
        max_value=168,
        initial=24,
        help_text="0 stops the old secret at once; at most 168 (7 days).",
    )
