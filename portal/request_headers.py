"""Request headers lose the characters no database column can store, before anything reads them.

A NUL byte (or, from a test client or an unusual server, an unpaired surrogate) in a
header value reaches places that store or look up headers: django-axes writes the
User-Agent and Accept headers into its attempt rows, the session list stores the
User-Agent, the session cookie is looked up in the database, the API looks up the
``X-Portal-Institution`` header. PostgreSQL refuses such text, so each of those would
be a 500. gunicorn and nginx refuse these headers already; ``runserver`` and other
servers pass them on, so the portal does not rely on the server.

The characters are removed (``portal.text.storable``, the rule for raw documents)
rather than the request answered with a 400: every reader of a header then sees text
it can store and look up, no header-parsing code (Range, cookies, CSRF, the API's
institution) needs its own guard, each of them keeps answering its own way (a junk
Range is still ignored, an unknown session cookie still means "signed out"), and there
is no extra response path that could itself fail. Nothing else in a value is changed:
other control characters are cleaned where a value is stored or shown.
"""

from portal.text import has_unstorable, storable

# The headers WSGI passes without the HTTP_ prefix.
UNPREFIXED = ("CONTENT_TYPE", "CONTENT_LENGTH")


def is_header(key) -> bool:
    return isinstance(key, str) and (key.startswith("HTTP_") or key in UNPREFIXED)


def clean_headers(meta) -> list[str]:
    """Remove what PostgreSQL cannot store from every header value in ``meta`` (a WSGI
    environ); returns the keys of the headers that were changed."""
    changed = [
        key
        for key, value in meta.items()
        if is_header(key) and isinstance(value, str) and has_unstorable(value)
    ]
    for key in changed:
        meta[key] = storable(meta[key])
    return changed


class StorableHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        changed = clean_headers(request.META)
        if changed:
            # Views read headers through these, made from META on first use or, for the
            # content type, when the request was made: made again from the clean values.
            request.__dict__.pop("headers", None)
            request.__dict__.pop("COOKIES", None)
            if "CONTENT_TYPE" in changed:
                request._set_content_type_params(request.META)
        return self.get_response(request)
