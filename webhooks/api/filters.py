from datetime import UTC

import django_filters as filters
from django.core.exceptions import ValidationError
from django.db.models import Q
from django_filters.fields import IsoDateTimeField

from core.filters import StrictFilterSet
from webhooks.models import WebhookDelivery
from webhooks.selectors import endpoint_id_parse


class UTCIsoDateTimeField(IsoDateTimeField):
    """ISO 8601, brought to UTC here: PostgreSQL refuses offsets beyond ±15:59 that Python accepts."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValidationError("Date and time out of range.", code="invalid") from None


class UTCIsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField


class DeliveryFilter(StrictFilterSet):
    status = filters.MultipleChoiceFilter(
        choices=WebhookDelivery.Status.choices, help_text="Repeat to combine: `?status=failed&status=pending`."
    )
    endpoint = filters.CharFilter(method="endpoint_filter", help_text="Endpoint id or exact name.")
    email_id = filters.CharFilter(field_name="email__email_id", help_text="The e-mail's 32-hex `email_id`.")
    since = UTCIsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Created at or after (ISO 8601; UTC if no offset)."
    )
    until = UTCIsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Created before (ISO 8601; UTC if no offset)."
    )
    failure_reason = filters.CharFilter(help_text="e.g. `upstream_server_error`, `request_failed`.")
    is_test = filters.BooleanFilter(help_text="Test deliveries sent from the admin.")

    class Meta:
        model = WebhookDelivery
        fields = ["status", "endpoint", "email_id", "since", "until", "failure_reason", "is_test"]

    def endpoint_filter(self, queryset, name, value):
        pk = endpoint_id_parse(value)
        if pk is not None:
            return queryset.filter(Q(endpoint_id=pk) | Q(endpoint__name=value.strip()))
        return queryset.filter(endpoint__name=value.strip())
