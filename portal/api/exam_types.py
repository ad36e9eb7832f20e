"""The institution's exam types and their worksheets over the API.

Anyone of the institution reads them (a key with the read scope is enough): a client
needs the fields and views of a type's worksheet to fill ``answers`` and ``views`` in
the findings. Administrators write them, with the exam types page's rules
(``portal.worksheets.forms.ExamTypeForm``: the definition read and checked by the one
reader, an application proposing one type only, CPT codes' shape): a changed
definition is a new worksheet version, never an edit of one (worksheets started on an
older version keep it). Another institution's exam type is a 404; a reviewer's or
clinician's write a 403 (they may read the type, so its existence is no secret).
"""

from __future__ import annotations

import json
import logging

from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Subquery
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from portal.api.errors import Conflict
from portal.api.pagination import CursorPagination
from portal.api.review import BoundedBodyView, TextField, form_errors, problem
from portal.dashboard.paging import SortKey
from portal.exams.access import audit
from portal.exams.models import AuditEvent
from portal.tenants.roles import is_admin
from portal.tenants.scoping import get_scoped_or_404, scoped_to_request
from portal.text import clean_text
from portal.worksheets.engine import DefinitionError, Worksheet
from portal.worksheets.forms import (
    CODE,
    MAX_LIST_ITEMS,
    ExamTypeForm,
    SavedMeanwhile,
    add_version,
)
from portal.worksheets.models import ExamType, WorksheetTemplate

logger = logging.getLogger(__name__)


# --- documents ---------------------------------------------------------------------------


class ChoiceSerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()


class FieldSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The key of its value in the findings' `answers`.")
    label = serializers.CharField()
    type = serializers.ChoiceField(
        choices=["choice", "multi", "yesno", "number", "text"],
        help_text="`choice`: one choice's code; `multi`: a list of codes; `yesno`: true or "
        "false; `number`: a number within `min`..`max`; `text`: at most `max_length` "
        "characters.",
    )
    required = serializers.BooleanField(help_text="Needed before signing.")
    choices = ChoiceSerializer(many=True)
    unit = serializers.CharField(allow_blank=True)
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    max_length = serializers.IntegerField()
    normal = serializers.JSONField(
        help_text="What the section's “normal” macro fills in; null if none."
    )


class SectionSerializer(serializers.Serializer):
    code = serializers.CharField()
    title = serializers.CharField()
    fields = FieldSerializer(many=True)


class ViewSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="The key of its status in the findings' `views`.")
    label = serializers.CharField()
    required = serializers.BooleanField(help_text="To record (obtained or not) before signing.")


class TemplateSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    sections = SectionSerializer(many=True)
    views = ViewSerializer(many=True)
    impression = serializers.JSONField(
        help_text="`{rules: [{when: {field, equals|in|includes|gt|lt}, text}], otherwise}`: "
        "the interpretation the page writes from the answers."
    )
    definition = serializers.JSONField(
        help_text="The definition as stored: what an administrator sends back, changed, "
        "to make the next version."
    )
    problems = serializers.ListField(
        child=serializers.CharField(),
        help_text="A version the checks now refuse (stored before a rule existed) lists "
        "why here, with no sections or views: an administrator saves a fixed version.",
    )


class ExamTypeSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable: the findings' `exam_type`, the filter.")
    name = serializers.CharField()
    is_active = serializers.BooleanField(help_text="False: retired, not offered for new exams.")
    clarius_applications = serializers.ListField(
        child=serializers.CharField(),
        help_text="Clarius application (preset) names that propose this type (without case).",
    )
    cpt_codes = serializers.ListField(child=serializers.CharField(), help_text="Data only.")
    template = TemplateSerializer(
        allow_null=True, help_text="The newest worksheet version; null for a type without one."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def template_document(template: WorksheetTemplate | None) -> dict | None:
    if template is None:
        return None
    document = {
        "version": template.version,
        "created_at": template.created_at,
        "sections": [],
        "views": [],
        "impression": {},
        "definition": template.definition,
        "problems": [],
    }
    try:
        sheet = Worksheet(template.definition)
    except DefinitionError as e:
        document["problems"] = [clean_text(p) for p in e.errors]
        return document
    except (TypeError, ValueError, KeyError, AttributeError):
        document["problems"] = ["The definition cannot be read."]
        return document
    document["sections"] = [
        {
            "code": code,
            "title": title,
            "fields": [
                {
                    "code": f.code,
                    "label": f.label,
                    "type": f.type,
                    "required": f.required,
                    "choices": [{"code": c, "label": label} for c, label in f.choices],
                    "unit": f.unit if isinstance(f.unit, str) else "",
                    "min": f.min,
                    "max": f.max,
                    "max_length": f.max_length,
                    "normal": f.normal,
                }
                for f in fields
            ],
        }
        for code, title, fields in sheet.sections
    ]
    document["views"] = [
        {"code": v.code, "label": v.label, "required": v.required} for v in sheet.views.values()
    ]
    document["impression"] = sheet.impression
    return document


def exam_type_document(exam_type: ExamType, template: WorksheetTemplate | None) -> dict:
    return {
        "code": exam_type.code,
        "name": clean_text(exam_type.name),
        "is_active": exam_type.is_active,
        "clarius_applications": [clean_text(str(a)) for a in exam_type.clarius_applications],
        "cpt_codes": [clean_text(str(c)) for c in exam_type.cpt_codes],
        "template": template_document(template),
        "created_at": exam_type.created_at,
        "updated_at": exam_type.updated_at,
    }


def newest_template_id():
    return Subquery(
        WorksheetTemplate.objects.filter(exam_type=OuterRef("pk"))
        .order_by("-version")
        .values("pk")[:1]
    )


def documents(request, exam_types) -> list[dict]:
    """The documents of a page of types: their newest templates in one query."""
    ids = [t.template_id for t in exam_types if t.template_id]
    templates = scoped_to_request(WorksheetTemplate, request).in_bulk(ids)
    return [exam_type_document(t, templates.get(t.template_id)) for t in exam_types]


# --- input -------------------------------------------------------------------------------


class NameListField(serializers.ListField):
    """A list of short names; each is one item of the page's comma-separated list."""

    def __init__(self, **kwargs):
        super().__init__(
            child=TextField(max_length=200), max_length=MAX_LIST_ITEMS, required=False, **kwargs
        )

    def to_internal_value(self, data):
        items = super().to_internal_value(data)
        for item in items:
            if "," in item:
                raise serializers.ValidationError("An item holds no comma.")
        return items


class ExamTypeWriteSerializer(serializers.Serializer):
    name = TextField(max_length=200, required=False)
    clarius_applications = NameListField(
        help_text="Application (preset) names; each proposes one exam type only."
    )
    cpt_codes = NameListField(help_text="Five digits, or four and a letter (76705, 0042T).")
    is_active = serializers.BooleanField(
        required=False, help_text="False retires the type: not offered for new exams."
    )
    definition = serializers.DictField(
        required=False,
        help_text="The worksheet: `sections` of typed `fields`, `views`, `impression` "
        "(docs/api.md). When it differs from the newest version's, it becomes the next "
        "version.",
    )
    based_on_version = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=2**31 - 1,
        help_text="The version the definition was edited from: if another administrator "
        "saved a newer one meanwhile, the change is refused (409) instead of undoing theirs.",
    )

    def validate_is_active(self, value):
        if not isinstance(self.initial_data.get("is_active"), bool):
            raise serializers.ValidationError("Send true or false.")
        return value


class ExamTypeCreateSerializer(ExamTypeWriteSerializer):
    code = TextField(
        max_length=40,
        help_text="Lower-case letters, digits, - and _; unique in the institution; never changes.",
    )
    name = TextField(max_length=200)
    definition = serializers.DictField(help_text="The worksheet: version 1.")

    def validate_code(self, value):
        if not CODE.match(value):
            raise serializers.ValidationError("Lower-case letters, digits, - and _ (at most 40).")
        return value


def page_form(instance, values: dict, definition) -> ExamTypeForm:
    """The exam types page's form, filled from the API's values (``definition`` None:
    the definition is not changed, so not read again)."""
    data = {
        "name": values.get("name", instance.name),
        "clarius_applications": ", ".join(
            values.get("clarius_applications", instance.clarius_applications or [])
        ),
        "cpt_codes": ", ".join(values.get("cpt_codes", instance.cpt_codes or [])),
        "definition": json.dumps(definition) if definition is not None else "",
    }
    if "based_on_version" in values:
        data["based_on"] = values["based_on_version"]
    form = ExamTypeForm(data, instance=instance)
    if definition is None:
        del form.fields["definition"]
    if not form.is_valid():
        raise form_errors(form)
    return form


def admin_only(request):
    if not is_admin(request):
        raise PermissionDenied("Only administrators of the institution edit exam types.")


def saved_meanwhile(error: SavedMeanwhile) -> Conflict:
    return Conflict(
        f"Another administrator saved version {error.version} of this worksheet meanwhile: "
        "read the exam type again and make your change to their version."
    )


# --- views -------------------------------------------------------------------------------


class ExamTypePagination(CursorPagination):
    page_size = 100
    max_page_size = 500


class ExamTypeList(BoundedBodyView):
    """The institution's exam types, retired ones included."""

    pagination_class = ExamTypePagination
    cursor_keys = [SortKey("code", False, ExamType._meta.get_field("code"))]

    @extend_schema(
        summary="The institution's exam types and their worksheets",
        description="Every exam type of the institution (retired ones too, `is_active: "
        "false`), by code, with its newest worksheet version: the fields and views the "
        "findings' `answers` and `views` are keyed by. Anyone of the institution; a page at "
        "a time (an institution has some tens).",
        operation_id="exam_types_list",
        responses=ExamTypeSerializer(many=True),
        tags=["exam types"],
    )
    def get(self, request):
        exam_types = scoped_to_request(ExamType, request).annotate(template_id=newest_template_id())
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(exam_types, request, view=self)
        return paginator.get_paginated_response(documents(request, page))

    @extend_schema(
        summary="Add an exam type (administrators)",
        description="With its worksheet as version 1. The definition is checked as on the "
        "exam types page: every problem is a 400 naming `definition`. A code the "
        "institution uses already is a 400. A key needs the write scope.",
        request=ExamTypeCreateSerializer,
        responses={
            201: ExamTypeSerializer,
            **problem(400, "A field is missing or invalid (`errors` names each)."),
            **problem(403, "Not an administrator, or a read-only key."),
        },
        examples=[
            OpenApiExample(
                "A small worksheet",
                request_only=True,
                value={
                    "code": "gallbladder",
                    "name": "Gallbladder",
                    "clarius_applications": ["Abdomen"],
                    "cpt_codes": ["76705"],
                    "definition": {
                        "sections": [
                            {
                                "code": "gb",
                                "title": "Gallbladder",
                                "fields": [
                                    {
                                        "code": "stones",
                                        "label": "Stones",
                                        "type": "yesno",
                                        "required": True,
                                        "normal": False,
                                    }
                                ],
                            }
                        ],
                        "views": [{"code": "long", "label": "Long axis", "required": True}],
                    },
                },
            )
        ],
        tags=["exam types"],
    )
    def post(self, request):
        admin_only(request)
        given = ExamTypeCreateSerializer(data=self.body(request))
        given.is_valid(raise_exception=True)
        values = given.validated_data
        code = values["code"]
        exam_types = scoped_to_request(ExamType, request)
        if exam_types.filter(code=code).exists():
            raise serializers.ValidationError(
                {"code": [f"Another exam type already has the code {code}."]}
            )
        instance = ExamType(institution=request.institution, code=code, name="")
        form = page_form(instance, values, values["definition"])
        data = form.cleaned_data
        try:
            with transaction.atomic():
                exam_type = ExamType.objects.create(
                    institution=request.institution,
                    code=code,
                    name=data["name"],
                    clarius_applications=data["clarius_applications"],
                    cpt_codes=data["cpt_codes"],
                    is_active=values.get("is_active", True),
                )
                template = add_version(exam_type, 1, form.parsed_definition, request.user)
        except (IntegrityError, SavedMeanwhile):
            raise serializers.ValidationError(
                {"code": [f"Another exam type took the code {code} meanwhile."]}
            ) from None
        audit(request, AuditEvent.Action.EDIT_EXAM_TYPE, exam_type, code=exam_type.code, version=1)
        logger.info(
            "institution %s: exam type %s added over the API by user %s",
            request.institution.slug,
            exam_type.pk,
            request.user.pk,
        )
        return Response(exam_type_document(exam_type, template), status=status.HTTP_201_CREATED)


class ExamTypeDetail(BoundedBodyView):
    """One exam type, by its code."""

    def exam_type(self, request, code) -> ExamType:
        return get_scoped_or_404(
            ExamType.objects.annotate(template_id=newest_template_id()), request, code=code
        )

    @extend_schema(
        summary="One exam type and its newest worksheet",
        responses={200: ExamTypeSerializer},
        tags=["exam types"],
    )
    def get(self, request, code):
        return Response(documents(request, [self.exam_type(request, code)])[0])

    @extend_schema(
        summary="Change an exam type (administrators)",
        description="Send the fields to change (each left out stays): `name`, "
        "`clarius_applications`, `cpt_codes`, `is_active` (false retires it), "
        "`definition`. A definition that differs from the newest version's becomes the "
        "next version (versions are never edited: worksheets keep theirs); the same "
        "definition changes nothing. Its problems are a 400 naming `definition`. With "
        "`based_on_version`, a newer version saved meanwhile is a 409. A key needs the "
        "write scope.",
        request=ExamTypeWriteSerializer,
        responses={
            200: ExamTypeSerializer,
            **problem(400, "A field is invalid (`errors` names each)."),
            **problem(403, "Not an administrator, or a read-only key."),
            **problem(409, "Another administrator saved a newer version meanwhile."),
        },
        tags=["exam types"],
    )
    def put(self, request, code):
        admin_only(request)
        exam_type = self.exam_type(request, code)
        given = ExamTypeWriteSerializer(data=self.body(request))
        given.is_valid(raise_exception=True)
        values = given.validated_data
        definition = values.get("definition")
        form = page_form(exam_type, values, definition)
        try:
            with transaction.atomic():
                if definition is not None:
                    form.save_version(request.user)
                    exam_type = form.instance
                else:
                    data = form.cleaned_data
                    exam_type.name = data["name"]
                    exam_type.clarius_applications = data["clarius_applications"]
                    exam_type.cpt_codes = data["cpt_codes"]
                if "is_active" in values:
                    exam_type.is_active = values["is_active"]
                exam_type.save()
        except SavedMeanwhile as e:
            raise saved_meanwhile(e) from None
        audit(request, AuditEvent.Action.EDIT_EXAM_TYPE, exam_type, code=exam_type.code)
        logger.info(
            "institution %s: exam type %s changed over the API by user %s",
            request.institution.slug,
            exam_type.pk,
            request.user.pk,
        )
        return Response(documents(request, [self.exam_type(request, code)])[0])
