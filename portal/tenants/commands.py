"""What the management commands share about tenants."""

from django.core.management.base import CommandError

from portal.tenants.models import Institution


def institution_by_slug(slug: str) -> Institution:
    """The institution a command names, or the error every command gives."""
    try:
        return Institution.objects.get(slug=slug)
    except Institution.DoesNotExist:
        raise CommandError(f'No institution with the slug "{slug}".') from None
