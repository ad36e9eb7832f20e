"""The fields every durable unit of work has (``portal.work.policy`` reads and writes them)."""

from django.db import models


class Work(models.Model):
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    # When the current (or last) claim was taken: it names the claim (portal.work.heartbeat).
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        abstract = True

    def _do_update(self, base_qs, *args, **kwargs):
        # A row saved by the worker that claimed it is written only while that claim is
        # still the row's: a worker whose lease ran out and was taken over by another
        # must not write its outcome over the new owner's work.
        from portal.work import heartbeat

        token = heartbeat.token_of(self)
        if token is None:
            return super()._do_update(base_qs, *args, **kwargs)
        if super()._do_update(base_qs.filter(last_attempt_at=token), *args, **kwargs):
            return True
        raise heartbeat.ClaimLost(
            f"{self._meta.label} {self.pk}: the claim of {token.isoformat()} was taken over "
            "by another worker; this outcome is not saved"
        )
