"""Per-institution media retention: capture media removed some days after signing.

An institution's ``media_retention_days`` (its settings page; empty: kept for ever)
says how long the media of an exam is kept after the exam's report was signed. Then
the purge (``purge``) removes, from the portal's storage (local files or S3 alike):

- each capture's original image or clip (``Capture.file``), once even when a
  resubmission's duplicate capture shares it;
- the exam's research files downloaded from Clarius (raw data, DICOM exports).

Kept: the thumbnails (the exam page still shows them), the worksheet, the report PDFs
and the audit log. An exam whose findings are not signed, or signed by a trainee and
awaiting attestation, is never purged. A purged capture keeps its row
(``media_purged_at``); its media links answer 410 Gone, and deliveries to a PACS that
need its media end with that reason instead of retrying.

Each exam's purge is a ``MediaPurge`` row of durable work (``portal.work``): found
daily (``plan_purges``) or on demand (``manage.py purge_media``), claimed, and resumed
by another worker if one dies mid-way; every step is idempotent. A finished purge
writes one audit event (action ``purge_media``, no user) with counts and bytes.
"""
