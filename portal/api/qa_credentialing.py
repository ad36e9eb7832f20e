"""The QA API: credentialing."""

urlpatterns: list = []
