"""The institution's Clarius links over the REST API, for its administrators.

What the "Clarius links" page offers (``views.institution_links``,
``views.unlink_in_institution``), with its rules: administrators of the current
institution only (a 404 for anyone else), another institution's link is a 404, and
unlinking is ``ingestion.linking.unlink`` (exams already received stay). Routed by
``api_urls.py``, which the composition root mounts at ``/api/v1/clarius/``: the core's
API does not know integrations, but the OpenAPI document describes these too.
"""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.clarius.ingestion.linking import unlink
from integrations.clarius.models import ClariusLink
from portal.api.pagination import CursorPagination
from portal.api.tenancy import InstitutionFromRequestMixin
from portal.tenants.roles import is_admin
from portal.tenants.scoping import get_scoped_or_404, scoped_to_request
from portal.text import clean_text


class LinkUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField()
    name = serializers.CharField()


class LinkSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    user = LinkUserSerializer()
    token = serializers.CharField(help_text="The Clarius customer token, masked.")
    state = serializers.ChoiceField(choices=ClariusLink.State.choices)
    state_label = serializers.CharField()
    created_at = serializers.DateTimeField()
    confirmed_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)


def link_document(link) -> dict:
    user = link.user
    return {
        "id": link.pk,
        "user": {
            "id": user.pk,
            "email": clean_text(user.email),
            "name": clean_text(user.get_full_name()),
        },
        "token": link.masked_token,
        "state": link.state,
        "state_label": link.get_state_display(),
        "created_at": link.created_at,
        "confirmed_at": link.confirmed_at,
        "ended_at": link.ended_at,
    }


class AdminOnly(InstitutionFromRequestMixin, APIView):
    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not is_admin(request):
            raise Http404("Institution administrators only")


class LinkPagination(CursorPagination):
    page_size = 50
    max_page_size = 200


class LinkList(AdminOnly):
    """The institution's Clarius links."""

    pagination_class = LinkPagination

    @extend_schema(
        summary="The institution's Clarius links (administrators)",
        responses={200: LinkSerializer(many=True)},
        tags=["clarius"],
    )
    def get(self, request):
        links = scoped_to_request(ClariusLink, request).select_related("user")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(links, request, view=self)
        return paginator.get_paginated_response([link_document(link) for link in page])


class LinkDetail(AdminOnly):
    """One Clarius link."""

    @extend_schema(summary="One Clarius link", responses={200: LinkSerializer}, tags=["clarius"])
    def get(self, request, pk):
        link = get_scoped_or_404(ClariusLink.objects.select_related("user"), request, pk=pk)
        return Response(link_document(link))

    @extend_schema(
        summary="Unlink a member's Clarius account",
        description="New exams from the account stop arriving; those received stay.",
        request=None,
        responses={200: LinkSerializer},
        tags=["clarius"],
    )
    def delete(self, request, pk):
        link = get_scoped_or_404(ClariusLink.objects.select_related("user"), request, pk=pk)
        unlink(link)
        return Response(link_document(link))
