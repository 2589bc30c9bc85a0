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


def statuses_filter(queryset, statuses: list[str]):
    """One status: `status = ?`, which SQLite reads from that status's partial index (its exact condition).
    Several: one `IN`, read along the list's time index (or each status's range of a composite index); the OR
    of equalities django-filter writes would make SQLite gather every row of each status and sort them."""
    if len(statuses) == 1:
        return queryset.filter(status=statuses[0])
    return queryset.filter(status__in=statuses)


class DeliveryFilter(StrictFilterSet):
    status = filters.MultipleChoiceFilter(
        choices=WebhookDelivery.Status.choices,
        method="status_filter",
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

    def status_filter(self, queryset, name, value):
        return statuses_filter(queryset, value)

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
