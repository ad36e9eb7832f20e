"""Offboarding: an institution's whole record as a verifiable archive, and back.

- ``manage.py export_institution <slug> <archive.tar>`` writes the institution's rows
  (``records/*.jsonl``, see ``plan``) and every stored file its rows name (capture
  media, thumbnails, report PDFs, DICOM and research files, read through
  ``portal.storage``) to an uncompressed tar, with ``manifest.json`` listing every member's
  path, size and SHA-256 (``exporting``). Secrets never leave: see ``plan.LEFT_OUT``.
- ``manage.py verify_export <archive.tar>`` checks it without trusting it (``archive``).
- ``manage.py import_institution <archive.tar>`` checks, then restores it into a portal
  that does not have the institution (``importing``).
"""
