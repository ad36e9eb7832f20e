from django.urls import reverse
from django.utils import timezone

from integrations.clarius.models import ResearchAccount


def test_the_exam_page_offers_research_data_once_an_account_is_connected(client, bob, exams):
    exam = exams["north"]
    client.force_login(bob)
    page = client.get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert "Research data (Clarius)" in page
    assert reverse("clarius-research") in page
    assert reverse("clarius-raw-data", args=[exam.pk]) not in page

    ResearchAccount.objects.create(
        user=bob,
        username="researcher@example.com",
        token_encrypted="x",
        connected_at=timezone.now(),
    )
    page = client.get(reverse("exam-detail", args=[exam.pk])).content.decode()
    assert reverse("clarius-raw-data", args=[exam.pk]) in page
    assert reverse("clarius-dicom", args=[exam.pk]) in page
