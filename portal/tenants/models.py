from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils.text import slugify

from portal.tenants.scoping import TenantOwned


class InstitutionQuerySet(models.QuerySet):
    def active(self):
        return self.filter(is_active=True)

    def of_user(self, user):
        """The active institutions ``user`` is a member of, by name."""
        if not user.is_authenticated:
            return self.none()
        return self.active().filter(memberships__user=user).order_by("name")


class Institution(models.Model):
    """A Clarius customer organisation; in the portal, a tenant."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    is_active = models.BooleanField(
        "active", default=True, help_text="Inactive institutions are hidden from their members."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = InstitutionQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="tenants_institution_name_ci_unique"),
        ]

    def __str__(self):
        return self.name

    @classmethod
    def unique_slug_for(cls, name):
        base = slugify(name)[:50] or "institution"
        slug, n = base, 2
        while cls.objects.filter(slug=slug).exists():
            slug, n = f"{base}-{n}", n + 1
        return slug


class Membership(TenantOwned):
    class Role(models.TextChoices):
        ADMIN = "admin", "Administrator"
        REVIEWER = "reviewer", "Reviewer"
        CLINICIAN = "clinician", "Clinician"

    # Declared again to give the reverse accessor a name (Institution.memberships).
    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["institution__name", "user__email"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "user"], name="tenants_membership_unique_pair"
            ),
        ]
        indexes = [models.Index(fields=["user", "institution"])]

    def __str__(self):
        return f"{self.user} in {self.institution} ({self.get_role_display()})"
