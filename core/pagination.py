from rest_framework.pagination import PageNumberPagination


class HistoryPagination(PageNumberPagination):
    """`?page=N&page_size=M` (at most 200 per page); the answer carries count, next and previous."""

    page_size_query_param = "page_size"
    max_page_size = 200
