from datetime import UTC

import django_filters as filters
from django.core.exceptions import ValidationError
from django.db.models import Q
from django_filters.fields import IsoDateTimeField

from core.filters import StrictFilterSet
from webhooks.models import WebhookDelivery, WebhookEndpoint
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
    # distinct=False: a column of the row itself repeats no row, and DISTINCT would defeat the index order.
    status = filters.MultipleChoiceFilter(
        choices=WebhookDelivery.Status.choices,
        distinct=False,
        help_text="Repeat to combine: `?status=failed&status=pending`.",
    )
    endpoint = filters.CharFilter(method="endpoint_filter", help_text="Endpoint id or exact name.")
    email_id = filters.CharFilter(field_name="email__email_id", help_text="The e-mail's 32-hex `email_id`.")
    since = UTCIsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Created at or after (ISO 8601; UTC if no offset)."
    )
    until = UTCIsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Created before (ISO 8601; UTC if no offset)."
    )
    failure_reason = filters.CharFilter(
        method="failure_reason_filter", help_text="e.g. `upstream_server_error`, `request_failed`."
    )
    is_test = filters.BooleanFilter(help_text="Test deliveries sent from the admin.")

    class Meta:
        model = WebhookDelivery
        fields = ["status", "endpoint", "email_id", "since", "until", "failure_reason", "is_test"]

    def endpoint_filter(self, queryset, name, value):
        # The ids first, from the small endpoint table: `endpoint_id = ?` then reads an index in the list's
        # order, where a join with an OR on the name scans the deliveries, and `IN (subquery)` sorts them all.
        matches = Q(name=value.strip())
        pk = endpoint_id_parse(value)
        if pk is not None:
            matches |= Q(pk=pk)
        ids = list(WebhookEndpoint.objects.filter(matches).values_list("pk", flat=True))
        return queryset.filter(endpoint_id__in=ids)

    def failure_reason_filter(self, queryset, name, value):
        # The `<> ''` the query implies, spelled out: SQLite uses a partial index only for a query that names its
        # condition (failed deliveries only, so a push writes no entry of it).
        return queryset.filter(failure_reason=value).exclude(failure_reason="")
