import django_filters as filters
from django.db.models import Q

from webhooks.models import WebhookDelivery


class DeliveryFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(
        choices=WebhookDelivery.Status.choices, help_text="Repeat to combine: `?status=failed&status=pending`."
    )
    endpoint = filters.CharFilter(method="endpoint_filter", help_text="Endpoint id or exact name.")
    email_id = filters.CharFilter(field_name="email__email_id", help_text="The e-mail's 32-hex `email_id`.")
    since = filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Created at or after (ISO 8601; UTC if no offset)."
    )
    until = filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Created before (ISO 8601; UTC if no offset)."
    )
    failure_reason = filters.CharFilter(help_text="e.g. `upstream_server_error`, `request_failed`.")
    is_test = filters.BooleanFilter(help_text="Test deliveries sent from the admin.")

    class Meta:
        model = WebhookDelivery
        fields = ["status", "endpoint", "email_id", "since", "until", "failure_reason", "is_test"]

    def endpoint_filter(self, queryset, name, value):
        value = value.strip()
        if value.isdigit():
            return queryset.filter(Q(endpoint_id=int(value)) | Q(endpoint__name=value))
        return queryset.filter(endpoint__name=value)
