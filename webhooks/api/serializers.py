from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.selectors import endpoint_find


class EndpointRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "name"]


class DeliveryEmailRefSerializer(serializers.Serializer):
    email_id = serializers.CharField()
    subject = serializers.CharField()
    url = serializers.HyperlinkedIdentityField(
        view_name="api-email-detail", lookup_field="email_id", lookup_url_kwarg="email_id"
    )


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "number", "series", "started_at", "finished_at", "duration_ms", "url", "delivery_mode", "request_headers",
            "request_size", "status_code", "response_snippet", "error", "failure_reason", "succeeded",
        ]


class DeliverySummarySerializer(serializers.ModelSerializer):
    """A delivery as listed under its e-mail."""

    url = serializers.HyperlinkedIdentityField(view_name="api-delivery-detail")
    endpoint = EndpointRefSerializer()

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "url", "endpoint", "status", "attempt_count", "last_status_code", "failure_reason", "next_attempt_at",
            "created_at", "completed_at",
        ]


class DeliverySerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api-delivery-detail")
    webhook_id = serializers.CharField(read_only=True, help_text="The `webhook-id` header, stable across retries.")
    endpoint = EndpointRefSerializer()
    email = DeliveryEmailRefSerializer(allow_null=True, help_text="Null for test deliveries.")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "url", "webhook_id", "email", "endpoint", "is_test", "status", "routing_rule", "attempt_count",
            "series", "next_attempt_at", "last_attempt_at", "last_status_code", "last_error", "failure_reason",
            "created_at", "updated_at", "completed_at", "replayed_at",
        ]


class DeliveryDetailSerializer(DeliverySerializer):
    payload = serializers.JSONField(
        read_only=True, allow_null=True, help_text="The JSON body as sent (null before the first attempt)."
    )
    attempts = DeliveryAttemptSerializer(many=True, help_text="Every HTTP try, all replay series, in order.")

    class Meta(DeliverySerializer.Meta):
        fields = DeliverySerializer.Meta.fields + ["payload", "attempts"]


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


@extend_schema_field(OpenApiTypes.STR)
class EndpointReferenceField(serializers.CharField):
    """An endpoint given by exact name or by id."""

    default_error_messages = {"unknown": "No endpoint with this id or name."}

    def to_internal_value(self, data):
        reference = super().to_internal_value(data)
        self.run_validators(reference)  # before the lookup: a NUL character must never reach PostgreSQL
        endpoint = endpoint_find(reference)
        if endpoint is None:
            self.fail("unknown")
        return endpoint

    def to_representation(self, value):
        return EndpointRefSerializer(value).data


class ReplayFailedSerializer(serializers.Serializer):
    endpoint = EndpointReferenceField(help_text="Endpoint exact name, or id.")
    since = serializers.DateTimeField(help_text="Deliveries created at or after (ISO 8601).")
    until = serializers.DateTimeField(help_text="Deliveries created before (ISO 8601).")

    def validate(self, data):
        if data["since"] >= data["until"]:
            raise serializers.ValidationError({"until": "Must be after since."})
        return data


class ReplayFailedAnswerSerializer(serializers.Serializer):
    replayed = serializers.IntegerField(help_text="Failed deliveries re-opened and enqueued.")
    endpoint = EndpointRefSerializer()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()


class LaneHealthSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["closed", "open", "half_open", "disabled"],
        help_text="closed: sending; open: waiting out the breaker's cool-down; half_open: one probe goes out; "
        "disabled: the endpoint is inactive (its deliveries wait, paused).",
    )
    since = serializers.DateTimeField(allow_null=True, help_text="When the lane entered this state.")
    open_until = serializers.DateTimeField(allow_null=True, help_text="End of the cool-down, while open.")
    consecutive_failures = serializers.IntegerField(help_text="Failed attempts in a row (breaker failures).")
    in_flight = serializers.IntegerField(help_text="Attempts in flight now, across every worker.")
    oldest_waiting_id = serializers.IntegerField(allow_null=True, help_text="The oldest pending or paused delivery.")
    oldest_waiting_at = serializers.DateTimeField(allow_null=True, help_text="When that delivery was created.")
    attempts_24h = serializers.IntegerField(help_text="Finished attempts over the last 24 h (test webhooks excluded).")
    success_rate_24h = serializers.FloatField(allow_null=True, help_text="Share of them that succeeded, 0 to 1.")
    median_latency_ms_24h = serializers.IntegerField(allow_null=True, help_text="Median time to an answer, in ms.")


class EndpointSerializer(serializers.ModelSerializer):
    """An endpoint and its lane. Secrets and custom header values are never shown; the URL is masked."""

    url = serializers.CharField(source="url_masked", help_text="Scheme and host only: URLs often carry tokens.")
    signed = serializers.SerializerMethodField(help_text="Deliveries carry Standard Webhooks signatures.")
    header_names = serializers.SerializerMethodField(help_text="Names of the custom headers (values are secret).")
    retry_on_status = serializers.ListField(
        child=serializers.IntegerField(), read_only=True,
        help_text="HTTP statuses retried besides network errors, timeouts, 408, 425, 429 and 5xx.",
    )
    lane = serializers.SerializerMethodField()

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id", "name", "url", "is_active", "is_default", "deactivated_reason", "deactivated_note", "deactivated_at",
            "max_in_flight", "rate_limit_per_minute", "breaker_failures", "delivery_mode", "timeout_seconds",
            "signed", "header_names", "retry_on_status", "lane",
        ]

    def get_signed(self, endpoint) -> bool:
        return bool(endpoint.secret)

    def get_header_names(self, endpoint) -> list[str]:
        return sorted(endpoint.headers)

    @extend_schema_field(LaneHealthSerializer)
    def get_lane(self, endpoint):
        return LaneHealthSerializer(self.context["lanes"][endpoint.pk]).data


class CancelledAnswerSerializer(serializers.Serializer):
    cancelled = serializers.IntegerField(help_text="Waiting deliveries cancelled.")
