"""A real OpenID Connect provider for the single sign-on tests: django-oauth-toolkit in
its own process, with its own SQLite database and RSA key in a temporary folder.

``server.start(...)`` runs it (``run.py``) on a free loopback port; the tests add people
with the claims they need through its ``/test/people/`` endpoint (guarded by a token).
Never part of the portal.
"""
