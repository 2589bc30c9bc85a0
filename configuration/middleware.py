from zoneinfo import ZoneInfo

from django.utils import timezone

from configuration.selectors import time_zone_configured

ADMIN_PATH_PREFIX = "/admin/"


class AdminTimeZoneMiddleware:
    """Admin pages show and filter times in the configured time zone (webhook settings), not in UTC.

    The overview's hourly buckets, the date hierarchy and "Today" filters then agree with each other.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(ADMIN_PATH_PREFIX):
            return self.get_response(request)
        timezone.activate(ZoneInfo(time_zone_configured()))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
