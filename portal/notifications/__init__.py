"""Notifications: the inbox, the emails and each member's choices.

- ``kinds``: what members are told about, and who hears of each;
- ``models``: notifications (the inbox), preferences, queued emails, digest entries;
- ``producing``: the subscriber to ``portal.events`` and ``notify``, which writes rows only;
- ``emails``: rendering, unsubscribe tokens, and the worker's task that sends one email;
- ``alerts``: the registry integrations report to (exams waiting for a link, ingestion
  failing for a day), read by the daily admin check;
- ``daily``: the daily digest of new exams and the admin checks (django-q2 schedules).
"""
