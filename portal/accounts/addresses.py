"""One spelling per email address: the portal stores, looks up and throttles this one.

Comparing addresses "case-insensitively" has no single meaning: Python's ``lower()``,
SQLite's ``LIKE`` and PostgreSQL's ``UPPER()`` each fold differently (PostgreSQL folds
the dotless ``ı`` to ``I``, Python does not), so a login throttle keyed one way and a
user lookup matching another let one spelling get fresh attempts at another's account.
Every address is therefore normalised here, once, and then compared exactly.
"""

import unicodedata

from django import forms


def normalise_email(value: str) -> str:
    """``value`` as the portal keeps it: NFKC, Unicode case folding, no outer white space.

    NFKC makes compatibility forms one (fullwidth ``ｒ`` is ``r``, the Kelvin sign is
    ``k``); ``casefold()`` is Unicode's caseless matching (``ß`` is ``ss``). Folding can
    leave text that NFKC changes again, so NFKC runs once more: the result is stable,
    ``normalise_email(normalise_email(x)) == normalise_email(x)``.
    """
    folded = unicodedata.normalize("NFKC", value).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


class NormalisedEmailField(forms.EmailField):
    """An email field whose value is normalised before it is validated or used."""

    def to_python(self, value):
        return normalise_email(super().to_python(value))
