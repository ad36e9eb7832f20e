"""Accounts on outside systems that a member links to an institution (a Clarius account).

The core knows no outside system. An integration whose users link accounts registers a
``LinkedAccounts`` in its ``AppConfig.ready()``; the member pages and the dashboard then
show each member's link state on it, link to its pages, and tell it when a member is
removed, so that exams stop arriving for someone who left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from portal.registries import Registry


@dataclass(frozen=True)
class LinkedAccounts:
    key: str  # "clarius"
    label: str  # "Clarius"
    # latest_state(): a queryset of the member's links, newest first, with ``OuterRef``s
    # to "institution" and "user" and ``.values("state")``: annotated onto memberships.
    latest_state: Callable
    state_labels: dict = field(default_factory=dict)
    manage_url: str = ""  # URL name of the administrators' page of links
    own_url: str = ""  # URL name of a member's own links
    # member_links(request, membership) -> the links the member detail page lists,
    # rendered with ``member_template`` (context: member, links, accounts).
    member_links: Callable | None = None
    member_template: str = ""
    # on_member_removed(membership): inside the removal's transaction.
    on_member_removed: Callable | None = None


@dataclass(frozen=True)
class LinkState:
    accounts: LinkedAccounts
    state: str | None  # None: never linked here

    @property
    def label(self) -> str:
        return self.accounts.state_labels.get(self.state, "") if self.state else ""


_registered: Registry[LinkedAccounts] = Registry("linked accounts")
register = _registered.register
registered = _registered.all


def annotation(accounts: LinkedAccounts) -> str:
    return f"link_state_{accounts.key}"


def member_removed(membership) -> None:
    for accounts in registered():
        if accounts.on_member_removed is not None:
            accounts.on_member_removed(membership)
