"""A kind's own rule for a value (``Option.check``) refuses it when it is typed, on the
page and in the command, not when the first exam is sent."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError
from django.urls import reverse

from portal.outbound.models import Destination
from tests.outbound.conftest import as_user
from tests.outbound.test_destination_command import run


def dicom_form(**changes) -> dict:
    data = {
        "name": "Main PACS",
        "option_host": "pacs.example.org",
        "option_port": "104",
        "option_called_ae": "MAINPACS",
        "option_calling_ae": "POCUS",
        "send_images": "on",
        "send_report": "on",
        "is_active": "on",
        "secret": "",
    }
    data.update(changes)
    return data


def test_the_page_refuses_an_ae_title_dicom_does_not_allow(client, trio, northside):
    as_user(client, trio[0])
    url = reverse("destination-add", args=["dicom"])
    refused = client.post(url, dicom_form(option_called_ae="MAIN\\PACS"))
    assert refused.status_code == 400
    assert "backslash" in refused.content.decode().lower()
    assert not Destination.objects.exists()
    accepted = client.post(url, dicom_form())
    assert accepted.status_code == 302
    assert Destination.objects.get().options["called_ae"] == "MAINPACS"


def test_the_page_refuses_a_dicomweb_url_with_credentials(client, trio, northside):
    as_user(client, trio[0])
    url = reverse("destination-add", args=["dicomweb"])
    refused = client.post(
        url,
        {
            "name": "Web PACS",
            "option_url": "https://user:password@pacs.example.org/dicom-web",
            "send_images": "on",
            "send_report": "on",
            "is_active": "on",
            "secret": "",
        },
    )
    assert refused.status_code == 400
    assert "Put no user name or password in the URL" in refused.content.decode()
    assert not Destination.objects.exists()


def test_the_command_applies_the_same_check(northside):
    with pytest.raises(CommandError, match="(?i)backslash"):
        run("add", "northside", "dicom", "--host=h", "--called-ae", "MAIN\\PACS")
    assert not Destination.objects.exists()
