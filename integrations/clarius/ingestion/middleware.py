"""Clarius' notifications go straight to their view, past the middleware made for people.

The webhook has no session, user, institution, CSRF token, message or page: sessions,
authentication, tenancy, messages, the content security policy, the frame options and
the login lockout would each cost every call and decide nothing. This middleware sits
after the request id, the metrics' start, the probes and ``SecurityMiddleware`` (HTTPS,
HSTS) in ``MIDDLEWARE``; for a path under the webhook's prefix it checks the host
against ``ALLOWED_HOSTS`` as the rest of the portal does, then calls the view itself.
Every other request goes on down the chain unchanged.
"""

from django.urls import Resolver404, resolve

from integrations.clarius.ingestion import webhooks

PREFIX = "/clarius/notifications/"


class NotificationFastPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(PREFIX):
            return self.get_response(request)
        request.get_host()  # DisallowedHost (a 400) for a host not in ALLOWED_HOSTS
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)  # the portal's own 404 page
        if match.func is not webhooks.notification:
            return self.get_response(request)
        return webhooks.notification(request, *match.args, **match.kwargs)
