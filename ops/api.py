"""`GET /api/webhook_logs`: the legacy dashboard's history read, kept for existing scripts."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from ops.history import LEGACY_LOGS_DEFAULT_LIMIT, LEGACY_STATUSES, webhook_logs_legacy
from webhooks.api.permissions import StaffModelPermissionsWithAttempts
from webhooks.api.views import AUTH_ERRORS, BAD_QUERY
from webhooks.models import WebhookDelivery

LEGACY_DAYS_DEFAULT = 7
LEGACY_DAYS_MAX = 30
LEGACY_LIMIT_MAX = 500


class LegacyLogEntrySerializer(serializers.Serializer):
    """One legacy history entry; keys the legacy app omitted for an outcome are null here."""

    timestamp = serializers.CharField(help_text="UTC ISO 8601 with microseconds.")
    type = serializers.CharField(help_text='Always "custom".')
    email_id = serializers.CharField(help_text='"test-webhook" for test deliveries.')
    status = serializers.ChoiceField(choices=["success", "error", "skipped"])
    status_code = serializers.IntegerField(allow_null=True, help_text="204 for skipped; null for a network error.")
    webhook_url = serializers.CharField(allow_null=True, help_text='First 50 characters, then "...".')
    subject = serializers.CharField(allow_null=True, help_text="First 100 characters.")
    delivery_mode = serializers.CharField(allow_null=True, help_text='"json" or "form" (last attempt).')
    attempted_delivery_modes = serializers.ListField(child=serializers.CharField(), allow_null=True)
    fallback_used = serializers.BooleanField(allow_null=True)
    payload_size_bytes = serializers.IntegerField(allow_null=True)
    error_message = serializers.CharField(allow_null=True)
    response_snippet = serializers.CharField(allow_null=True)
    failure_reason = serializers.CharField(allow_null=True)
    delivery_id = serializers.IntegerField(allow_null=True, help_text="Not in the legacy app.")
    endpoint = serializers.CharField(allow_null=True, help_text="Endpoint name. Not in the legacy app.")
    delivery_status = serializers.CharField(
        allow_null=True, help_text="pending, sending, paused, succeeded, failed or cancelled."
    )
    attempts = serializers.IntegerField(allow_null=True, help_text="Attempts made so far.")


class LegacyLogsSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    logs = LegacyLogEntrySerializer(many=True)
    count = serializers.IntegerField()
    days_filter = serializers.IntegerField()


def legacy_days_parse(raw: str | None) -> int:
    """The legacy rules: missing, not an integer or below 1 → 7; above 30 → 30."""
    try:
        days = int(raw)
    except (TypeError, ValueError):
        return LEGACY_DAYS_DEFAULT
    if days < 1:
        return LEGACY_DAYS_DEFAULT
    return min(days, LEGACY_DAYS_MAX)


class WebhookLogsQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=LEGACY_LIMIT_MAX, default=LEGACY_LOGS_DEFAULT_LIMIT)
    status = serializers.ChoiceField(choices=LEGACY_STATUSES, required=False)
    email_id = serializers.CharField(required=False, max_length=32)


class WebhookLogsView(APIView):
    """The legacy dashboard's history read, kept for existing scripts."""

    # Entries show the attempts' outcomes: view_webhookdelivery and view_deliveryattempt.
    permission_classes = [StaffModelPermissionsWithAttempts]
    queryset = WebhookDelivery.objects.none()

    @extend_schema(
        operation_id="webhook_logs_legacy",
        summary="Legacy webhook history",
        description=(
            "The legacy `GET /api/webhook_logs` shape. One entry per delivery that made at least one attempt "
            "(its latest outcome; a delivery still retrying is `error`), plus one `skipped` entry per e-mail "
            "skipped for lack of links. Newest first, at most `limit` entries (50 by default, as the legacy app)."
        ),
        parameters=[
            OpenApiParameter(
                "days",
                OpenApiTypes.INT,
                description="Look-back in days: 1-30, default 7 (invalid or < 1 → 7, > 30 → 30).",
            ),
            WebhookLogsQuerySerializer,
        ],
        responses={200: LegacyLogsSerializer, **BAD_QUERY, **AUTH_ERRORS},
    )
    def get(self, request):
        days = legacy_days_parse(request.query_params.get("days"))
        query = WebhookLogsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        logs = webhook_logs_legacy(days=days, **query.validated_data)
        return Response({"success": True, "logs": logs, "count": len(logs), "days_filter": days})
