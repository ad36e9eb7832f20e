"""A line for the login page from the page that sent someone there.

A page that needs a login may say why, for the login page it redirects to: the Clarius
Connect flow leaves "Sign in to link your Clarius account to the portal". The line is
shown only when the login's ``next`` is the page that left it, so an abandoned flow
does not label a later, ordinary login; it is dropped once the login succeeds.
"""

SESSION_KEY = "portal_login_hint"


def leave(session, next_url: str, text: str) -> None:
    session[SESSION_KEY] = {"next": next_url, "text": text}


def for_next(session, next_url: str) -> str:
    hint = session.get(SESSION_KEY)
    if isinstance(hint, dict) and next_url and hint.get("next") == next_url:
        return str(hint.get("text", ""))
    return ""


def forget(session) -> None:
    session.pop(SESSION_KEY, None)
