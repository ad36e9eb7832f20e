"""Every institution starts with the default exam types (``defaults.install``)."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from portal.tenants.models import Institution


@receiver(post_save, sender=Institution, dispatch_uid="worksheets-install-defaults")
def install_defaults(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        from portal.worksheets.defaults import install

        install(instance)


def install_where_missing(sender, using="default", **kwargs):
    """After ``migrate``: the defaults for each institution that has no exam type yet."""
    from portal.worksheets.defaults import install
    from portal.worksheets.models import ExamType

    for institution in Institution.objects.using(using).exclude(
        pk__in=ExamType.objects.using(using).values("institution_id")
    ):
        install(institution)
