"""Every list of the API pages with a cursor: keyset pagination, as the worklist does.

A page is the ``page_size`` rows after (or before) the boundary row of the page the
client was on, in a total order ending with a unique key (``portal.dashboard.paging``).
No ``COUNT(*)`` and no ``OFFSET``: one query reads ``page_size + 1`` rows whatever the
position, and rows inserted while a client pages through the list neither repeat nor
vanish. The answer is ``{"next": url|null, "previous": url|null, "results": [...]}``;
the links carry the other query parameters (filters, sort, page size) unchanged.

A view names its order with ``cursor_keys`` (a list of ``SortKey``, the last unique) or
``get_cursor_keys()``; by default the newest rows first (``-id``). ``page_size`` is read
leniently (a value that is not a positive number is the default, a larger one the
maximum); a cursor the portal did not make, or the page numbers of old, is a 400 problem
with the reason.

    class Findings(InstitutionFromRequestMixin, generics.ListAPIView):
        pagination_class = CursorPagination
        cursor_keys = [SortKey("created_at", True, Finding._meta.get_field("created_at")),
                       SortKey("id", True, Finding._meta.get_field("id"))]
"""

from __future__ import annotations

from django.db import models
from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from portal.dashboard.paging import BadCursor, SortKey, paginate

# A cursor is the boundary row's sort values, prefixed by the direction.
AFTER, BEFORE = "n", "p"


def newest_first(model) -> list[SortKey]:
    return [SortKey("id", True, model._meta.pk)]


class CursorPagination(BasePagination):
    page_size = 50
    max_page_size = 200
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset, request, view=None):
        params = request.query_params
        if "page" in params:
            raise serializers.ValidationError(
                {
                    "page": "not a page of this list: this list pages with cursors; "
                    "follow the next and previous links"
                }
            )
        self.request = request
        self.size = self.get_page_size(request)
        keys = self.get_keys(queryset, view)
        after = before = None
        cursor = params.get(self.cursor_query_param)
        if cursor:
            direction, value = cursor[:1], cursor[1:]
            if direction == AFTER and value:
                after = value
            elif direction == BEFORE and value:
                before = value
            else:
                raise self.bad_cursor("The page link is not one the portal made.")
        try:
            self.page = paginate(queryset, keys, size=self.size, after=after, before=before)
        except BadCursor as error:
            raise self.bad_cursor(str(error)) from None
        return self.page.rows

    def bad_cursor(self, reason: str):
        return serializers.ValidationError(
            {self.cursor_query_param: f"{reason} Follow the next and previous links as given."}
        )

    def get_keys(self, queryset, view) -> list[SortKey]:
        if view is not None and hasattr(view, "get_cursor_keys"):
            return view.get_cursor_keys()
        if view is not None and getattr(view, "cursor_keys", None):
            return view.cursor_keys
        return newest_first(queryset.model)

    def get_page_size(self, request) -> int:
        text = request.query_params.get(self.page_size_query_param, "")
        if text.isascii() and text.isdigit() and len(text) < 10 and int(text) > 0:
            return min(int(text), self.max_page_size)
        return self.page_size

    def link(self, direction: str, cursor: str | None):
        if cursor is None:
            return None
        url = self.request.build_absolute_uri()
        url = remove_query_param(url, "page")
        return replace_query_param(url, self.cursor_query_param, direction + cursor)

    def get_next_link(self):
        return self.link(AFTER, self.page.next_cursor)

    def get_previous_link(self):
        return self.link(BEFORE, self.page.previous_cursor)

    def get_paginated_response(self, data):
        return Response(
            {
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        link = {"type": ["string", "null"], "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The next page; null on the last page."},
                "previous": {
                    **link,
                    "description": "The page before; null on the first page.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Where the page starts: copy it from a `next` or `previous` "
                "link; never build one. A cursor the portal did not make is a 400.",
                "schema": {"type": "string", "maxLength": 8200},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows a page (default {self.page_size}, at most "
                f"{self.max_page_size}; a larger number is the maximum).",
                "schema": {"type": "integer", "minimum": 1, "default": self.page_size},
            },
        ]


def integer_key(name: str, *, descending: bool) -> SortKey:
    """A key on an integer column that is not a model field of its own (``submission_id``)."""
    return SortKey(name, descending, models.IntegerField())
