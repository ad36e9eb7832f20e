"""What integrations report to an institution's administrators, through a registry.

The core cannot see why exams are not arriving (that is the integration's business), so
an integration registers a check in ``AppConfig.ready()``: ``check(now)`` returns the
``Alert``s that hold now. The daily admin check (``daily.check_alerts``) calls every
check and tells each institution's administrators, once a day at most per alert.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from portal.notifications import kinds
from portal.registries import Registry

ALERT_KINDS = (kinds.EXAMS_UNLINKED, kinds.INGESTION_FAILING, kinds.DESTINATION_FAILING)


@dataclass(frozen=True)
class Alert:
    institution_id: int
    kind: str  # one of ALERT_KINDS
    key: str  # the same situation, the same key: repeated at most once a day
    title: str  # no patient data
    body: str = ""
    url: str = ""  # a path in the portal, for the institution's administrators


@dataclass(frozen=True)
class AlertCheck:
    key: str
    check: Callable[[datetime], list[Alert]]


_checks: Registry[AlertCheck] = Registry("notification alert check")
registered = _checks.all


def register(key: str, check: Callable[[datetime], list[Alert]]) -> AlertCheck:
    """Call ``check(now)`` once a day; each ``Alert`` it returns goes to the admins."""
    return _checks.register(AlertCheck(key, check))
