"""The tenant rule, in one place.

Every row that belongs to an institution subclasses ``TenantOwned``; every staff-facing
query for such rows goes through ``for_institution`` (or ``scoped_to_request`` /
``get_scoped_or_404`` in views). Another institution's object is a 404, never a 403 that
would confirm it exists. ``tests/test_tenant_rule.py`` checks that every model with an
``institution`` foreign key follows this.
"""

from django.db import models
from django.http import Http404


class TenantQuerySet(models.QuerySet):
    def for_institution(self, institution):
        """Only the rows of ``institution``; none at all when there is no institution."""
        if institution is None:
            return self.none()
        return self.filter(institution=institution)


class TenantOwned(models.Model):
    institution = models.ForeignKey(
        "tenants.Institution", on_delete=models.CASCADE, related_name="+"
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


def scoped_to_request(queryset_or_model, request):
    """The rows of the institution the request is working in (see the middleware)."""
    queryset = getattr(queryset_or_model, "_default_manager", queryset_or_model)
    if not isinstance(queryset, models.QuerySet):
        queryset = queryset.all()
    if not isinstance(queryset, TenantQuerySet):
        raise TypeError(f"{queryset.model.__name__} is not tenant-owned")
    return queryset.for_institution(getattr(request, "institution", None))


def get_scoped_or_404(queryset_or_model, request, **lookup):
    try:
        return scoped_to_request(queryset_or_model, request).get(**lookup)
    except (models.ObjectDoesNotExist, ValueError, TypeError) as e:
        if isinstance(e, TypeError) and "tenant-owned" in str(e):
            raise
        raise Http404("No such object in this institution") from None
