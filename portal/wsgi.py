import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

application = get_wsgi_application()

# Import every view now, not in the first request: a freshly started worker would
# otherwise keep that request (a Clarius notification, which is never retried) waiting
# for the whole portal to load, seconds on a busy machine.
get_resolver().url_patterns  # noqa: B018
