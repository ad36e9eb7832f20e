"""Settings for the test suite: the portal's own, with development defaults."""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from portal.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# A file, not memory, so that child processes (a worker, a killed download) share it.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    _test_db = VAR_DIR / f"test-portal-{os.getpid()}.sqlite3"  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(_test_db)}  # noqa: F405
# Tests run tasks in-process unless a test starts a real worker.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}  # noqa: F405
# The Clarius sandbox the tests run against speaks plain http on loopback.
CLARIUS_ALLOW_HTTP = True
# Institution admins sign in through the login form in many tests: the rule that they
# must have a second factor is tested by tests/mfa, which turns it on.
PORTAL_MFA_REQUIRED_FOR_ADMINS = False
