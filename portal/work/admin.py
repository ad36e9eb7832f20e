"""What every admin page of durable work shares: state, attempts, last error, "retry now"."""

from django.contrib import admin, messages
from django.utils import timezone


class WorkAdminMixin:
    """For ModelAdmins of ``portal.work.Work`` rows; ``retry_state`` is the state to retry in."""

    retry_state = "pending"
    work_readonly = [
        "attempts",
        "next_attempt_at",
        "claimed_until",
        "last_attempt_at",
        "last_error",
    ]

    @admin.action(description="Retry now")
    def retry_now(self, request, queryset):
        from portal.work.registry import nudge_pk

        ids = list(self.retryable(queryset).values_list("pk", flat=True))
        updated = queryset.model._default_manager.filter(pk__in=ids).update(
            state=self.retry_state,
            attempts=0,
            next_attempt_at=timezone.now(),
            claimed_until=None,
        )
        for pk in ids:
            nudge_pk(queryset.model, pk)
        self.message_user(request, f"{updated} queued to run again now.", messages.SUCCESS)

    def retryable(self, queryset):
        return queryset

    @admin.display(description="Last error")
    def last_error_short(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error
