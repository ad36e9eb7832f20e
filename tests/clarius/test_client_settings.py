"""Building clients from Django settings, and the production rule: HTTPS only."""

import threading

import pytest

from integrations.clarius import clients
from integrations.clarius.api.client import ServiceClient
from integrations.clarius.api.errors import InvalidParameter, OriginRefused


def test_it_builds_a_service_client_from_settings(clarius_settings, clarius_sandbox):
    client = clients.service_client()
    assert client.api_url == clarius_sandbox.api_url
    assert client.get_settings().notification_url == ""
    assert clarius_sandbox.api_key not in repr(client)


def test_overrides_replace_settings(clarius_settings, clarius_sandbox):
    created = clients.service_client().create_api_key("rotated")
    client = clients.service_client(api_key=created.key)
    assert client.masked_key == f"{created.prefix}.***"
    assert client.list_api_keys()


def test_a_research_client_from_settings(clarius_settings, clarius_sandbox):
    client = clients.research_client()
    client.authenticate(clarius_sandbox.research_username, clarius_sandbox.research_password)
    assert client.token


def test_http_is_refused_in_production(clarius_settings):
    clarius_settings.DEBUG = False
    clarius_settings.CLARIUS_ALLOW_HTTP = False
    with pytest.raises(OriginRefused, match="plain http"):
        clients.service_client()


def test_http_media_is_refused_in_production(settings):
    settings.CLARIUS_API_URL = "https://cloud.clarius.com/api/public/v0/"
    settings.CLARIUS_API_KEY = "Q4nmtzH5.mvIzWOlklcrFJ3iWaJTFESYCzCe8j6TQ"
    settings.CLARIUS_MEDIA_ORIGINS = ["http://127.0.0.1:9000"]
    settings.CLARIUS_ALLOW_HTTP = False
    client = clients.service_client()
    with pytest.raises(OriginRefused):
        client.download_media("http://127.0.0.1:9000/x.jpg", "/nonexistent/x.jpg")


def test_allow_http_defaults_to_debug(settings):
    settings.CLARIUS_API_URL = "http://127.0.0.1:9/api/public/v0/"
    settings.CLARIUS_API_KEY = "Q4nmtzH5.mvIzWOlklcrFJ3iWaJTFESYCzCe8j6TQ"
    del settings.CLARIUS_ALLOW_HTTP
    settings.DEBUG = True
    assert clients.service_client().guard.allow_http is True
    settings.DEBUG = False
    with pytest.raises(OriginRefused):
        clients.service_client()


def test_a_missing_key_is_refused(settings):
    settings.CLARIUS_API_KEY = None
    with pytest.raises(InvalidParameter):
        clients.service_client()


@pytest.mark.parametrize(
    "key", ["", "Q4nmtzH5.abc def", "Q4nmtzH5.abc\r\nX-Injected: 1", "Q4nmtzH5.ü", None]
)
def test_a_malformed_key_is_refused_without_being_echoed(key):
    with pytest.raises(InvalidParameter) as excinfo:
        ServiceClient("https://cloud.clarius.com/api/public/v0/", key)
    if key:
        assert key not in str(excinfo.value)


def test_a_thread_keeps_one_media_client_while_the_settings_stay(clarius_settings, settings):
    """Media links carry no credential: the media client holds none, refuses API calls,
    and is kept per thread (its connections reused) until the settings change."""
    first = clients.media_client()
    assert clients.media_client() is first
    assert first._secrets() == [] and "key" not in repr(first).lower()
    with pytest.raises(InvalidParameter, match="calls no API"):
        first._json("GET", "services/settings/")
    others = []
    thread = threading.Thread(target=lambda: others.append(clients.media_client()))
    thread.start()
    thread.join()
    assert others[0] is not first
    settings.CLARIUS_MEDIA_ORIGINS = [*settings.CLARIUS_MEDIA_ORIGINS, "https://media.example"]
    assert clients.media_client() is not first
