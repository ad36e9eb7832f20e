"""How the API answers a request Django itself refuses while reading it.

Django raises ``RequestDataTooBig``, ``TooManyFieldsSent`` and ``TooManyFilesSent`` (all
``SuspiciousOperation``) while parsing a body over its limits; outside DRF they become
Django's HTML 400 page. An API client gets JSON with the reason instead, like every
other refusal.
"""

from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


def api_exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": "The request body is larger than the portal accepts."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return Response(
            {"detail": "The request has more form fields or files than the portal accepts."},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, SuspiciousOperation):
        return Response(
            {"detail": "The request could not be read."}, status=status.HTTP_400_BAD_REQUEST
        )
    return exception_handler(exc, context)
