import logging

from django.urls import reverse

from integrations.clarius.account.registration import active_endpoint
from portal.log_masking import mask


def test_it_masks_the_webhook_secret_and_customer_tokens():
    assert mask("POST /clarius/notifications/s3cr3t-value/ HTTP/1.1") == (
        "POST /clarius/notifications/***/ HTTP/1.1"
    )
    assert mask('"GET /clarius/connect/eYENW6HO4xdM0K/ HTTP/1.1" 302') == (
        '"GET /clarius/connect/***/ HTTP/1.1" 302'
    )
    assert mask("GET /clarius/links/ HTTP/1.1") == "GET /clarius/links/ HTTP/1.1"


def test_django_request_warnings_do_not_carry_the_secret(client, db, caplog):
    secret = active_endpoint().secret
    handler = logging.getLogger().handlers[0]
    with caplog.at_level(logging.WARNING):
        client.post(reverse("clarius-notifications", args=[secret]), "not json", "text/plain")
    formatted = [handler.format(r) for r in caplog.records if handler.filter(r)]
    assert formatted and all(secret not in line for line in formatted)


def test_gunicorn_access_lines_are_masked():
    from types import SimpleNamespace

    from gunicorn.config import Config

    from portal.log_masking import GunicornLogger

    logger = GunicornLogger(Config())
    request = SimpleNamespace(
        method="POST",
        path="/clarius/notifications/abc/",
        query="",
        version=(1, 1),
        headers=[],
        uri="/clarius/notifications/abc/",
    )
    response = SimpleNamespace(status="202 Accepted", sent=10, headers=[], response_length=10)
    environ = {
        "REMOTE_ADDR": "127.0.0.1",
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/clarius/notifications/abc/",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "QUERY_STRING": "",
        "PATH_INFO": "/clarius/notifications/abc/",
    }
    from datetime import timedelta

    atoms = logger.atoms(response, request, environ, timedelta(seconds=0.01))
    assert "abc" not in atoms["r"] and "abc" not in atoms["U"]
