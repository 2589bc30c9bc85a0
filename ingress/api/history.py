"""Read-only history of inbound e-mails for staff and their scripts (SPEC §9)."""

import django_filters as filters
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import generics, serializers

from core.addresses import sender_email_parse
from core.filters import StrictFilterSet
from ingress.models import InboundEmail
from ingress.selectors import email_detail_queryset, emails_list
from webhooks.api.filters import UTCIsoDateTimeFilter, statuses_filter
from webhooks.api.serializers import DeliverySummarySerializer
from webhooks.api.views import AUTH_ERRORS, BAD_QUERY, NOT_FOUND


class EmailFilter(StrictFilterSet):
    status = filters.MultipleChoiceFilter(
        choices=InboundEmail.Status.choices,
        method="status_filter",
        help_text="Repeat to combine: `?status=processed&status=deferred`.",
    )
    detector = filters.CharFilter(
        method="detector_filter", help_text="`recadrage`, `desabonnement_journee_tarifs`, or `none` for no detector."
    )
    sender = filters.CharFilter(
        method="sender_filter",
        help_text="Sender address, or `Name <address>`: matched exactly in the canonical form ingress stores.",
    )
    email_id = filters.CharFilter(help_text="Several records share an email_id only when deduplication was off.")
    subject = filters.CharFilter(lookup_expr="icontains", help_text="Subject contains (case-insensitive).")
    since = UTCIsoDateTimeFilter(
        field_name="received_at", lookup_expr="gte", help_text="Received at or after (ISO 8601; UTC if no offset)."
    )
    until = UTCIsoDateTimeFilter(
        field_name="received_at", lookup_expr="lt", help_text="Received before (ISO 8601; UTC if no offset)."
    )

    class Meta:
        model = InboundEmail
        fields = ["status", "detector", "sender", "email_id", "subject", "since", "until"]

    def status_filter(self, queryset, name, value):
        return statuses_filter(queryset, value)

    def sender_filter(self, queryset, name, value):
        # Stored canonical (core.addresses): an exact, indexable match instead of a case-insensitive scan.
        return queryset.filter(sender_email=sender_email_parse(value))

    def detector_filter(self, queryset, name, value):
        return queryset.filter(detector="" if value == "none" else value)


class EmailSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(
        view_name="api-email-detail", lookup_field="email_id", lookup_url_kwarg="email_id"
    )
    deliveries = DeliverySummarySerializer(many=True, help_text="One per endpoint the e-mail was routed to.")
    links = serializers.JSONField(help_text='Provider links: [{"provider", "raw_url", "direct_url"}].')
    decision = serializers.JSONField(help_text="Why it was routed the way it was (detector, window, rules, endpoints).")

    class Meta:
        model = InboundEmail
        fields = [
            "id", "url", "email_id", "message_id", "received_at", "sender", "sender_email", "subject", "date", "source",
            "status", "detector", "delivery_time", "is_urgent", "links", "webhooks_time_start", "webhooks_time_end",
            "deliver_after", "decision", "body_preview", "deliveries",
        ]


class EmailDetailSerializer(EmailSerializer):
    class Meta(EmailSerializer.Meta):
        fields = EmailSerializer.Meta.fields + ["body"]


@extend_schema_view(
    get=extend_schema(
        operation_id="emails_list",
        summary="Inbound e-mails, newest first",
        responses={200: EmailSerializer(many=True), **BAD_QUERY, **AUTH_ERRORS, **NOT_FOUND},
    )
)
class EmailListView(generics.ListAPIView):
    serializer_class = EmailSerializer
    filterset_class = EmailFilter

    def get_queryset(self):
        return emails_list()


@extend_schema_view(
    get=extend_schema(
        operation_id="emails_retrieve",
        summary="One inbound e-mail with its body, decision and deliveries",
        description="The most recent record with this `email_id`.",
        responses={200: EmailDetailSerializer, **AUTH_ERRORS, **NOT_FOUND},
    )
)
class EmailDetailView(generics.RetrieveAPIView):
    serializer_class = EmailDetailSerializer
    filter_backends: list = []
    lookup_field = "email_id"

    def get_queryset(self):
        return email_detail_queryset()

    def get_object(self):
        # email_id is unique while deduplication is on; otherwise the newest record answers.
        email_id = self.kwargs["email_id"]
        if "\x00" in email_id:  # PostgreSQL cannot even compare such a string
            raise Http404
        queryset = self.get_queryset().filter(email_id=email_id)
        obj = queryset.first()
        if obj is None:
            raise Http404
        self.check_object_permissions(self.request, obj)
        return obj
