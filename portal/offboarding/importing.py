"""Restoring an institution's archive into a portal that does not have it.

The archive is checked first (``archive.check``): nothing is restored from one that
fails. The rows go in one transaction; the stored files are written through
``portal.storage`` inside it, each committed only if its SHA-256 is the manifest's, and
removed again if anything fails, so a failed import leaves neither rows nor files.

Numbers: a part whose source numbers are all free here keeps them (an import into an
empty portal is then an exact restore: the audit log's object ids still point at the
right rows, and the audit chain, whose hashes cover the institution's and users'
numbers, verifies); otherwise the part is renumbered and every reference follows.
Users are matched by address; one without an account here is created inactive, with no
usable password and no staff rights: an administrator activates them and they reset it.

Rows are written as they were (``_base_manager.bulk_create``): no signals, no new
audit numbers, creation times kept, unfinished work unclaimed.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager

from django.apps import apps
from django.core.management.color import no_style
from django.db import DatabaseError, connection, transaction

from portal import storage
from portal.offboarding import archive, codec, plan
from portal.storage import StorageError

BATCH = 500
WORK_CLAIM = "claimed_until"


class ImportRefused(Exception):
    """The archive cannot be restored here; nothing was written."""


@contextmanager
def _times_as_stored(models):
    # auto_now and auto_now_add would stamp the moment of the import over the times the
    # archive holds; switched off for these models while the rows are written.
    changed = []
    for model in models:
        for f in model._meta.concrete_fields:
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
                changed.append((f, f.auto_now, f.auto_now_add))
                f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in changed:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


class _Restore:
    def __init__(self, path, manifest, tar, members, log):
        self.path = path
        self.manifest = manifest
        self.tar = tar
        self.members = members
        self.log = log
        self.expected = {e["path"]: e["sha256"] for e in manifest["files"]}
        self.maps: dict[str, dict | None] = {}  # None: numbers kept
        self.users: dict[int, int] = {}
        self.institution = None
        self.source_institution = manifest["institution"]["id"]
        self.reset: list = []
        self.renumbered: list[str] = []
        self.created_users = 0
        self.matched_users = 0
        self.written: list[str] = []
        self.counts: dict[str, int] = {}

    def rows(self, path):
        """The rows of a records member, checked against the manifest's SHA-256 once
        read (the archive could change between the check and the import)."""
        digest = hashlib.sha256()
        with self.tar.extractfile(self.members[path]) as f:
            while line := f.readline(archive.LINE_LIMIT + 1):
                digest.update(line)
                yield json.loads(line)
        if digest.hexdigest() != self.expected[path]:
            raise ImportRefused(f"{path}: changed since it was checked")

    def remap(self, label, value):
        if value is None:
            return None
        mapping = self.maps[label]
        return value if mapping is None else mapping[value]

    def stored_name(self, name):
        """A stored file's name here: its institution folder follows the renumbering."""
        if not name or self.institution.pk == self.source_institution:
            return name
        prefix = f"{self.source_institution}/"
        if name.startswith(prefix):
            return f"{self.institution.pk}/{name[len(prefix) :]}"
        return name

    # The institution and its users ---------------------------------------------------

    def restore_institution(self):
        from portal.tenants.models import Institution

        row = next(iter(self.rows(plan.INSTITUTION_PATH)))
        kwargs = {}
        for f in Institution._meta.concrete_fields:
            if f.attname in row and not f.primary_key:
                kwargs[f.attname] = codec.decode(f, row[f.attname])
        institution = Institution(**kwargs)
        if not Institution.objects.filter(pk=row["id"]).exists():
            institution.pk = row["id"]
            self.reset.append(Institution)
        # A bulk insert sends no post_save: a new institution's default exam types would
        # collide with the archive's own.
        (institution,) = Institution._base_manager.bulk_create([institution])
        if institution.pk is None:
            raise ImportRefused("the database returned no number for the institution")
        self.institution = institution

    def restore_users(self):
        from portal.accounts.addresses import normalise_email

        model = plan.user_model()
        fields = {name: model._meta.get_field(name) for name in plan.USER_FIELDS}
        later = []
        for row in self.rows(plan.USERS_PATH):
            email = normalise_email(row["email"])
            existing = model._base_manager.filter(email=email).first()
            if existing is not None:
                self.users[row["id"]] = existing.pk
                self.matched_users += 1
                continue
            if model._base_manager.filter(pk=row["id"]).exists():
                later.append(row)
                continue
            self.users[row["id"]] = self._create_user(model, fields, row, email, keep_id=True)
        if self.users and model not in self.reset:
            self._reset_sequences([model])
        for row in later:
            email = normalise_email(row["email"])
            self.users[row["id"]] = self._create_user(model, fields, row, email, keep_id=False)

    def _create_user(self, model, fields, row, email, *, keep_id):
        user = model(
            email=email,
            full_name=row.get("full_name") or "",
            credentials=row.get("credentials") or "",
            date_joined=codec.decode(fields["date_joined"], row.get("date_joined")),
            is_active=False,
            is_staff=False,
            is_superuser=False,
        )
        if keep_id:
            user.pk = row["id"]
        user.set_unusable_password()
        user.save(force_insert=True)
        self.created_users += 1
        return user.pk

    # The parts ------------------------------------------------------------------------

    def restore_part(self, part, entry):
        model = part.model
        pk = model._meta.pk
        ids = [codec.decode(pk, row[pk.attname]) for row in self.rows(part.path)]
        keep = not any(
            model._base_manager.filter(pk__in=ids[i : i + 1000]).exists()
            for i in range(0, len(ids), 1000)
        )
        self.maps[part.label] = None if keep else {}
        if not keep:
            self.renumbered.append(part.label)
        columns = plan.columns(part)
        stored = plan.stored_fields(part)
        self_refs = []
        batch: list = []
        sources: list = []
        for row in self.rows(part.path):
            kwargs = {}
            source_pk = codec.decode(pk, row[pk.attname])
            for f in columns:
                if f.attname not in row:
                    continue
                value = codec.decode(f, row[f.attname])
                if f.primary_key:
                    if keep:
                        kwargs[f.attname] = value
                    continue
                if plan.is_institution_field(f):
                    value = self.institution.pk
                elif plan.is_user_field(f):
                    value = None if value is None else self.users[value]
                elif f.is_relation:
                    target = plan.target_part(f)
                    if target is part:
                        if value is not None:
                            self_refs.append((source_pk, f.attname, value))
                        value = None
                    else:
                        value = self.remap(target.label, value)
                elif f.name in stored:
                    value = self.stored_name(value)
                elif f.name in part.id_keyed_json and value:
                    target = part.id_keyed_json[f.name]
                    value = {str(self.remap(target, int(k))): v for k, v in value.items()}
                elif f.name == WORK_CLAIM:
                    value = None
                kwargs[f.attname] = value
            if part.label == "outbound.Destination":
                kwargs["is_active"] = False
            batch.append(model(**kwargs))
            sources.append(source_pk)
            if len(batch) >= BATCH:
                self._flush(part, batch, sources)
                batch, sources = [], []
        self._flush(part, batch, sources)
        for source_pk, attname, value in self_refs:
            model._base_manager.filter(pk=self.remap(part.label, source_pk)).update(
                **{attname: self.remap(part.label, value)}
            )
        if keep and ids and getattr(pk, "db_returning", False):
            self.reset.append(model)
        self.counts[part.label] = len(ids)
        if len(ids) != entry["count"]:
            raise ImportRefused(f"{part.path}: {len(ids)} rows, the manifest says {entry['count']}")

    def _flush(self, part, batch, sources):
        if not batch:
            return
        # The base manager's plain bulk insert: rows as they were, without the signals or
        # the audit log's own numbering (the archive's numbers and hashes are restored).
        made = part.model._base_manager.bulk_create(batch)
        mapping = self.maps[part.label]
        if mapping is not None:
            for source, obj in zip(sources, made, strict=True):
                if obj.pk is None:
                    raise ImportRefused(f"{part.label}: the database returned no new numbers")
                mapping[source] = obj.pk

    def restore_audit_head(self):
        head_model = apps.get_model("exams", "AuditChainHead")
        events = apps.get_model("exams", "AuditEvent")._base_manager
        last = (
            events.filter(institution=self.institution, seq__isnull=False).order_by("-seq").first()
        )
        if last is not None:
            head_model._base_manager.update_or_create(
                institution_id=self.institution.pk, defaults={"seq": last.seq, "hash": last.hash}
            )

    def _reset_sequences(self, models):
        # Rows written with their own numbers: the next new row must not take one of them.
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(sql)

    # Files ----------------------------------------------------------------------------

    def restore_files(self):
        for member in archive.walk(self.tar):
            if not member.name.startswith("files/"):
                continue
            name = self.stored_name(member.name[len("files/") :])
            if storage.exists(name):
                raise ImportRefused(
                    f"{member.name}: a stored file {name} already exists here; nothing is "
                    "overwritten"
                )
            expected = self.expected[member.name]
            with (
                self.tar.extractfile(member) as source,
                storage.writer(name, expected_sha256=expected) as w,
            ):
                self.written.append(name)
                while chunk := source.read(storage.CHUNK):
                    w.write(chunk)

    def remove_files(self):
        for name in self.written:
            try:
                storage.delete(name)
            except Exception:  # noqa: BLE001 - the rest are still removed
                self.log(f"could not remove {name}")


def restore(path, *, log=lambda message: None) -> _Restore:
    """Check the archive at ``path`` and restore it; raises ``ImportRefused`` (nothing
    written) when it fails a check or its institution is already here."""
    from portal.tenants.models import Institution

    checked = archive.check(path)
    if not checked.ok:
        lines = "\n".join(f"  {p}: {reason}" for p, reason in checked.problems[:50])
        raise ImportRefused(f"the archive fails its checks:\n{lines}")
    manifest = checked.manifest
    source = manifest["institution"]
    if Institution.objects.filter(slug=source["slug"]).exists():
        raise ImportRefused(f"an institution with the slug {source['slug']!r} is already here")
    if Institution.objects.filter(name__iexact=source["name"]).exists():
        raise ImportRefused(f"an institution named {source['name']!r} is already here")
    tar, _ = archive.open_tar(path)
    with tar:
        wanted = {e["path"] for e in manifest["records"].values()}
        members = archive.members_by_name(tar, wanted)
    tar, _ = archive.open_tar(path)
    with tar:
        job = _Restore(path, manifest, tar, members, log)
        models = [Institution] + [p.model for p in plan.parts()]
        try:
            with transaction.atomic(), _times_as_stored(models):
                job.restore_institution()
                job.restore_users()
                for part in plan.parts():
                    entry = manifest["records"].get(part.label)
                    if entry is not None:
                        job.restore_part(part, entry)
                job.restore_audit_head()
                job._reset_sequences(job.reset)
                job.restore_files()
        except BaseException as e:
            job.remove_files()
            if isinstance(e, ValueError | KeyError | TypeError | DatabaseError | StorageError):
                # An archive changed since its check, or rows this database refuses (a
                # number or unique value already taken): the transaction was undone.
                raise ImportRefused(f"{type(e).__name__}: {e}; nothing was imported") from e
            raise
    return job
