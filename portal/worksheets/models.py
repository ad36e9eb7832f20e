"""Exam types and their versioned worksheet templates, per institution.

An ``ExamType`` is what a POCUS program documents an exam as (FAST, lung, aorta…): a code,
a name, the Clarius application names that propose it, the CPT codes it usually bills as
(data only). Its worksheet is a ``WorksheetTemplate``: a JSON definition (sections of
typed fields, required views, normal macros, impression rules; ``portal.worksheets.engine``
reads and checks it). Editing never changes a version: it adds the next one, and a
worksheet keeps the version it was started (and signed) on. Every institution starts with
the defaults of ``portal.worksheets.defaults`` and edits its own copies.
"""

from django.conf import settings
from django.db import models

from portal.tenants.scoping import TenantOwned


class ExamType(TenantOwned):
    code = models.SlugField(
        max_length=40, help_text="Short and stable: used by the API and the worklist filter."
    )
    name = models.CharField(max_length=200)
    clarius_applications = models.JSONField(
        "Clarius applications",
        default=list,
        blank=True,
        help_text="Application (preset) names sent by Clarius that propose this exam type; "
        "compared without case.",
    )
    cpt_codes = models.JSONField(
        "CPT codes", default=list, blank=True, help_text="What it usually bills as (data only)."
    )
    is_active = models.BooleanField(
        "in use", default=True, help_text="A retired exam type is not offered for new exams."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "code"], name="worksheets_examtype_unique_code"
            ),
        ]

    def __str__(self):
        return self.name

    def current_template(self):
        """The newest version of its worksheet (``None`` for a type without one)."""
        return self.templates.order_by("-version").first()


class WorksheetTemplate(TenantOwned):
    """One version of an exam type's worksheet; never edited once made."""

    exam_type = models.ForeignKey(ExamType, on_delete=models.CASCADE, related_name="templates")
    version = models.PositiveIntegerField()
    definition = models.JSONField(help_text="Checked by portal.worksheets.engine.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["exam_type_id", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["exam_type", "version"], name="worksheets_template_unique_version"
            ),
        ]

    def __str__(self):
        return f"{self.exam_type} worksheet, version {self.version}"
