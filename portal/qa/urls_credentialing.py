"""QA pages: credentialing (see portal/qa/views_credentialing.py)."""

urlpatterns: list = []
