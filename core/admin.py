"""Admin pieces every app's admin shares."""

from django.contrib import admin
from django.contrib.admin.views.main import PAGE_VAR
from django.core.paginator import Paginator
from django.db.models import Q
from django.utils.functional import cached_property

# Rows a history list counts, at least: past it, it says "1,000+" (docs/admin.md, "Large lists").
COUNT_FLOOR = 1000
# How many pages past the one shown the count reaches, so the page links always lead somewhere.
COUNT_PAGES_AHEAD = 10
# A word search reads the newest this many rows of the filtered list, never the whole history.
SEARCH_WINDOW = 10_000


class CappedCountPaginator(Paginator):
    """Counts the rows of a list up to a cap and no further, so a page costs the same at any history size.

    The count is one `SELECT COUNT(*) FROM (SELECT id … LIMIT cap + 1)`: an index walk that stops at the cap.
    `capped` says there are more rows than `count`; each page moved to raises the cap with it.
    """

    def __init__(self, object_list, per_page, *args, cap: int = COUNT_FLOOR, **kwargs):
        super().__init__(object_list, per_page, *args, **kwargs)
        self.cap = cap
        self.capped = False

    @cached_property
    def count(self) -> int:
        found = self.object_list.order_by().values("pk")[: self.cap + 1].count()
        self.capped = found > self.cap
        return min(found, self.cap)


class HistoryAdmin(admin.ModelAdmin):
    """A list that grows with history: counts capped, no facet counts, no full total (docs/admin.md)."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER

    @staticmethod
    def search_window(queryset, field: str) -> Q:
        """The condition keeping the newest SEARCH_WINDOW rows of `queryset` by `field` (an indexed time
        column): one index read finds the window's oldest value (none: the list is shorter, keep all)."""
        oldest = queryset.order_by(f"-{field}", "-id").values_list(field, flat=True)[
            SEARCH_WINDOW - 1 : SEARCH_WINDOW
        ].first()
        return Q(**{f"{field}__gte": oldest}) if oldest else Q()

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        page = request.GET.get(PAGE_VAR, "1")
        page = int(page) if page.isascii() and page.isdigit() else 1
        cap = max(COUNT_FLOOR, (page + COUNT_PAGES_AHEAD) * per_page)
        return self.paginator(queryset, per_page, orphans, allow_empty_first_page, cap=cap)


class ReadOnlyInline(admin.TabularInline):
    """Rows another part of the service writes (attempts, deliveries, notifications), shown, never edited."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SingletonAdmin(admin.ModelAdmin):
    """A settings singleton (core.models.SingletonModel): one row, never added twice, never deleted."""

    def has_add_permission(self, request):
        return not self.model.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
