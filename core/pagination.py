"""Pagination of the history lists (docs/api.md, "Pagination").

Cursors: each page is one index range read from a position, whatever the history's size, and stays
stable while new rows arrive. Page numbers (`?page=N`), the first version's scheme, still work for a
deprecation period, counting at most COUNT_CAP rows so their cost is bounded too.
"""

from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.utils import timezone
from django.utils.functional import cached_property
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination, PageNumberPagination

PAGE_SIZE_MAX = 200
COUNT_CAP = 10_000
# RFC 9745 `Deprecation` header of `?page=` answers: the day page numbers were deprecated.
PAGE_NUMBERS_DEPRECATED_AT = datetime(2026, 12, 6, tzinfo=UTC)
PAGE_SIZE_HELP = f"Results per page: 1 to {PAGE_SIZE_MAX} (more is cut to {PAGE_SIZE_MAX}); default 50."


def page_size_parse(request, default: int) -> int:
    """`?page_size=`: a whole number from 1 (larger than PAGE_SIZE_MAX is cut to it); else a 400 naming it."""
    raw = request.query_params.get("page_size")
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise exceptions.ValidationError({"page_size": [f"A whole number from 1 to {PAGE_SIZE_MAX}."]})
    return min(int(raw), PAGE_SIZE_MAX)


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows (an index walk that stops there, not the whole history)."""

    @cached_property
    def count(self) -> int:
        return min(self.object_list[: COUNT_CAP + 1].count(), COUNT_CAP)


class PageNumbers(PageNumberPagination):
    """`?page=N`, deprecated: `count` is exact up to COUNT_CAP, and page numbers reach that many results."""

    page_size_query_param = "page_size"
    max_page_size = PAGE_SIZE_MAX
    django_paginator_class = CappedCountPaginator
    invalid_page_message = (
        f"Invalid page ({{message}}). Page numbers reach the first {COUNT_CAP:,} results; the cursor links reach all."
    )

    def get_page_size(self, request):
        return page_size_parse(request, self.page_size)

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response["Deprecation"] = f"@{int(PAGE_NUMBERS_DEPRECATED_AT.timestamp())}"
        return response


class HistoryPagination(CursorPagination):
    """Cursor pages in the queryset's own order, whose first key (a date-time) places the cursor and whose
    last key is unique; `?page=N` is answered by PageNumbers meanwhile."""

    page_size_query_param = "page_size"
    max_page_size = PAGE_SIZE_MAX
    page_size_query_description = PAGE_SIZE_HELP
    cursor_query_description = "The opaque position given in `next` or `previous`; omit it for the newest page."
    legacy: PageNumbers | None = None

    def paginate_queryset(self, queryset, request, view=None):
        if "page" not in request.query_params:
            return super().paginate_queryset(queryset, request, view)
        if self.cursor_query_param in request.query_params:
            raise exceptions.ValidationError({"page": ["Give page or cursor, not both."]})
        self.legacy = PageNumbers()
        return self.legacy.paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if self.legacy:
            return self.legacy.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_page_size(self, request):
        return page_size_parse(request, self.page_size)

    def get_ordering(self, request, queryset, view):
        ordering = tuple(queryset.query.order_by)
        self.position_field = queryset.model._meta.get_field(ordering[0].lstrip("-"))
        return ordering

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None:
            return cursor
        return cursor._replace(position=self._position_parse(cursor.position))

    def _position_parse(self, position: str) -> str:
        """The cursor's date-time, in UTC as the database answers it; a forged one is an invalid cursor (404)."""
        try:
            moment = self.position_field.to_python(position)
            if not isinstance(moment, datetime) or timezone.is_naive(moment):
                raise ValueError
            return str(moment.astimezone(UTC))
        except (ValidationError, ValueError, OverflowError):
            raise exceptions.NotFound(self.invalid_cursor_message) from None

    def get_schema_operation_parameters(self, view):
        cursor, page_size = super().get_schema_operation_parameters(view)
        page_size["schema"] = {"type": "integer", "minimum": 1, "maximum": PAGE_SIZE_MAX}
        return [
            cursor,
            page_size,
            {
                "name": "page",
                "required": False,
                "in": "query",
                "deprecated": True,
                "description": (
                    f"Deprecated: page number (from 1), answered with `count` (exact up to {COUNT_CAP:,}) and "
                    f"page-number links; pages reach the first {COUNT_CAP:,} results. Not with `cursor`."
                ),
                "schema": {"type": "integer", "minimum": 1},
            },
        ]

    def get_paginated_response_schema(self, schema):
        answer = super().get_paginated_response_schema(schema)
        answer["properties"]["count"] = {
            "type": "integer",
            "description": f"Only with the deprecated `?page=`: matching results, counted up to {COUNT_CAP:,}.",
        }
        return answer
