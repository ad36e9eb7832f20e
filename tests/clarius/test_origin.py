"""The origin guard: which URLs may get the API credential, which may be fetched as media."""

import pytest

from integrations.clarius.api.errors import OriginRefused
from integrations.clarius.api.origin import Origin, OriginGuard, parse_origin

API = "https://cloud.clarius.com/api/public/v0/"
MEDIA = ["https://*.amazonaws.com", "https://media.example.org:8443"]


@pytest.fixture
def guard():
    return OriginGuard(API, MEDIA)


@pytest.mark.parametrize(
    "url",
    [
        "https://cloud.clarius.com/api/public/v0/services/settings/",
        "https://cloud.clarius.com/api/public/v0/exams/download-requests/x/data/",
        "https://cloud.clarius.com/api/public/v0/download-requests/x/data/",
        "https://cloud.clarius.com:443/api/public/v0/exams/accessible/?limit=1&offset=1",
        "https://CLOUD.Clarius.com/api/public/v0/exams/",
        "HTTPS://cloud.clarius.com/api/public/v0/exams/",
    ],
)
def test_it_accepts_api_urls_on_the_origin_and_under_the_path(guard, url):
    assert guard.check_api(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/api/public/v0/exams/download-requests/x/data/",
        "https://cloud.clarius.com.evil.example/api/public/v0/x/",
        "https://evil-cloud.clarius.com/api/public/v0/x/",
        "https://x.cloud.clarius.com/api/public/v0/x/",
        "https://cloud.clarius.com:8443/api/public/v0/x/",
        "http://cloud.clarius.com/api/public/v0/x/",
        "https://cloud.clarius.com/admin/",
        "https://cloud.clarius.com/api/public/v1/x/",
        "https://cloud.clarius.com/api/public/v0",
        "https://cloud.clarius.com",
        "https://cloud.clarius.com/api/public/v0/../../admin/",
        "https://cloud.clarius.com/api/public/v0/%2e%2e/%2E%2E/admin/",
        "https://cloud.clarius.com/api/public/v0/./x/",
        "https://user:pw@cloud.clarius.com/api/public/v0/x/",
        "https://user@cloud.clarius.com/api/public/v0/x/",
        "https://evil.example\\@cloud.clarius.com/api/public/v0/x/",
        "https://cloud.clarius.com /api/public/v0/x/",
        "https://cloud.clarius.com/api/public/v0/x/\n",
        "https://cloud.clarius.com:99999/api/public/v0/x/",
        "https://cloud.clarius.com:abc/api/public/v0/x/",
        "file:///etc/passwd",
        "ftp://cloud.clarius.com/api/public/v0/x/",
        "data:text/plain,hello",
        "javascript:alert(1)",
        "//cloud.clarius.com/api/public/v0/x/",
        "/api/public/v0/x/",
        "",
        "https:///api/public/v0/x/",
        "https://cloud_clarius.com/api/public/v0/x/",
    ],
)
def test_it_refuses_credentials_for_anything_else(guard, url):
    with pytest.raises(OriginRefused) as excinfo:
        guard.check_api(url)
    assert excinfo.value.permanent is True


def test_it_refuses_a_non_string_url(guard):
    with pytest.raises(OriginRefused):
        guard.check_api(None)


@pytest.mark.parametrize(
    "url",
    [
        "https://bucket.s3.amazonaws.com/capture.jpg?X-Amz-Signature=abc",
        "https://bucket.s3.us-east-1.amazonaws.com/a/b.mp4",
        "https://a.amazonaws.com:443/x",
        "https://media.example.org:8443/x.jpg",
        # The API origin itself may serve media (fetched without the key all the same).
        "https://cloud.clarius.com/media/x.jpg",
    ],
)
def test_it_accepts_media_on_the_media_origins_and_the_api_origin(guard, url):
    assert guard.check_media(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://evil-amazonaws.com/x.jpg",
        "https://amazonaws.com/x.jpg",
        "https://amazonaws.com.evil.example/x.jpg",
        "https://bucket.s3.amazonaws.com.evil.example/x.jpg",
        "https://xamazonaws.com/x.jpg",
        "https://bucket.s3.amazonaws.com:8443/x.jpg",
        "http://bucket.s3.amazonaws.com/x.jpg",
        "https://media.example.org/x.jpg",  # port 443, origin says 8443
        "https://sub.media.example.org:8443/x.jpg",  # not a wildcard entry
        "https://user@bucket.s3.amazonaws.com/x.jpg",
        "file:///etc/passwd",
        "ftp://bucket.s3.amazonaws.com/x.jpg",
        "data:image/png;base64,iVBORw0KGgo=",
        "https://127.0.0.1/x.jpg",
    ],
)
def test_it_refuses_media_from_anywhere_else(guard, url):
    with pytest.raises(OriginRefused):
        guard.check_media(url)


def test_it_applies_default_ports_on_both_sides():
    guard = OriginGuard("http://127.0.0.1/api/", ["http://media.test:80"], allow_http=True)
    assert guard.check_api("http://127.0.0.1:80/api/x/")
    assert guard.check_media("http://media.test/x")
    with pytest.raises(OriginRefused):
        guard.check_media("http://media.test:8080/x")


def test_it_refuses_http_in_production_for_the_api_root():
    with pytest.raises(OriginRefused, match="plain http"):
        OriginGuard("http://127.0.0.1:8000/api/public/v0/")


def test_it_refuses_http_media_in_production_even_when_configured():
    guard = OriginGuard(API, ["http://media.test"])
    with pytest.raises(OriginRefused, match="plain http"):
        guard.check_media("http://media.test/x.jpg")


def test_it_allows_http_when_told_to():
    guard = OriginGuard(
        "http://127.0.0.1:8000/api/public/v0/", ["http://127.0.0.1:9000"], allow_http=True
    )
    assert guard.check_api("http://127.0.0.1:8000/api/public/v0/x/")
    assert guard.check_media("http://127.0.0.1:9000/x")
    with pytest.raises(OriginRefused):
        guard.check_media("http://127.0.0.1:9001/x")


def test_it_normalises_the_api_root_to_end_with_a_slash():
    guard = OriginGuard("https://cloud.clarius.com/api/public/v0")
    assert guard.api_url == API
    with pytest.raises(OriginRefused):
        guard.check_api("https://cloud.clarius.com/api/public/v0x/")


def test_wildcards_match_on_label_boundaries_only():
    origin = parse_origin("https://*.amazonaws.com")
    assert origin == Origin("https", "amazonaws.com", 443, wildcard=True)
    assert origin.matches("https", "s3.amazonaws.com", 443)
    assert origin.matches("https", "a.b.c.amazonaws.com", 443)
    assert not origin.matches("https", "amazonaws.com", 443)
    assert not origin.matches("https", "evil-amazonaws.com", 443)
    assert not origin.matches("https", ".amazonaws.com", 443)
    assert not origin.matches("http", "s3.amazonaws.com", 443)
    assert not origin.matches("https", "s3.amazonaws.com", 80)


@pytest.mark.parametrize(
    "value",
    [
        "https://host/path",
        "https://user@host",
        "ftp://host",
        "host",
        "https://*",
        "https://*.",
        "https://a.*.com",
        "https://host:0x1",
    ],
)
def test_malformed_origins_are_refused(value):
    with pytest.raises(ValueError):
        parse_origin(value)


def test_the_guard_repr_names_its_origins(guard):
    assert "*.amazonaws.com:443" in repr(guard)
