"""GET /api/ingress/gmail/failures: the pushed Gmail messages whose delivery failed, for the Apps Script to label.

Authenticated as the push is (SPEC §3.1, §3.4): the bearer token, and with INGRESS_HMAC_SECRET set the
signature, computed over the raw query string (what follows `?`, as sent) where a POST signs its body.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ingress.api.views import (
    DATABASE_UNAVAILABLE,
    RETRY_AFTER_UNAVAILABLE_SECONDS,
    JSONAnswers,
    signature_refusal,
    token_refusal,
)
from ingress.selectors import gmail_failures_list
from ingress.services import IngestResult

logger = logging.getLogger("ingress")

LOOKBACK_MAX = timedelta(days=7)
FAILURES_LIMIT = 500


class GmailFailuresQuerySerializer(serializers.Serializer):
    since = serializers.DateTimeField(
        required=False,
        default_timezone=UTC,
        help_text="E-mails received at or after (ISO 8601; UTC if no offset). Default and earliest: 7 days ago; "
        "an earlier value is raised to it.",
    )


class GmailFailedEmailSerializer(serializers.Serializer):
    message_id = serializers.CharField(help_text="The Gmail message id the script pushed.")
    email_id = serializers.CharField()
    status = serializers.ChoiceField(
        choices=["failed", "cancelled"], help_text="`failed` when any delivery failed for good, else `cancelled`."
    )
    endpoints = serializers.ListField(
        child=serializers.CharField(), help_text="Endpoints whose delivery failed or was cancelled."
    )
    last_attempt_at = serializers.DateTimeField(allow_null=True, help_text="Their latest attempt; null if none.")


class GmailFailuresAnswerSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    since = serializers.DateTimeField(help_text="The start of the look-back actually used.")
    failed = GmailFailedEmailSerializer(many=True, help_text="Newest e-mail first.")
    recovered = serializers.ListField(
        child=serializers.CharField(),
        help_text="Gmail message ids whose deliveries all succeeded after a replay: their label comes off.",
    )
    truncated = serializers.BooleanField(
        help_text=f"More than {FAILURES_LIMIT} e-mails matched; only the newest are listed."
    )


class IngressRefusalSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField(help_text="Why.")


def failures_since(requested: datetime | None, now: datetime) -> datetime:
    """The look-back start: `requested`, raised to at most LOOKBACK_MAX ago (also the default)."""
    earliest = now - LOOKBACK_MAX
    return earliest if requested is None or requested < earliest else requested


def _refused(result: IngestResult) -> Response:
    return Response(result.body, status=result.status_code, headers=result.headers)


class GmailFailuresView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    content_negotiation_class = JSONAnswers

    @extend_schema(
        operation_id="ingress_gmail_failures",
        parameters=[GmailFailuresQuerySerializer],
        responses={
            200: GmailFailuresAnswerSerializer,
            **{
                code: OpenApiResponse(IngressRefusalSerializer, description=description)
                for code, description in (
                    (400, "`since` is not an ISO 8601 date and time."),
                    (401, "Missing or wrong token, or (with INGRESS_HMAC_SECRET) signature of the query string."),
                    (500, "Unexpected error."),
                    (503, "Database unavailable; retry after `Retry-After` seconds."),
                )
            },
        },
        auth=[{"IngressBearer": []}],
        summary="Pushed Gmail messages whose delivery failed or was cancelled, and those recovered by a replay",
    )
    def get(self, request):
        try:
            return self._answer(request)
        except DATABASE_UNAVAILABLE:
            logger.exception("INGRESS: 503 database unavailable")
            retry_after = {"Retry-After": str(RETRY_AFTER_UNAVAILABLE_SECONDS)}
            return _refused(IngestResult.refused(503, "Service unavailable", **retry_after))
        except Exception:
            logger.exception("INGRESS: unexpected error")
            return _refused(IngestResult.refused(500, "Internal error"))

    def _answer(self, request) -> Response:
        query = request.META.get("QUERY_STRING", "").encode("latin-1", "replace")  # WSGI: the raw bytes as latin-1
        refusal = token_refusal(request) or signature_refusal(request, query)
        if refusal:
            return _refused(refusal)
        # A plain dict, not the QueryDict: DRF would read `?since=` from a QueryDict as "not given".
        params = GmailFailuresQuerySerializer(data=request.query_params.dict())
        if not params.is_valid():
            return _refused(IngestResult.refused(400, f"Invalid since: {params.errors['since'][0]}"))
        since = failures_since(params.validated_data.get("since"), timezone.now())
        found = gmail_failures_list(since, FAILURES_LIMIT)
        answer = {
            "success": True, "since": since, "failed": found.failed, "recovered": found.recovered,
            "truncated": found.truncated,
        }
        return Response(GmailFailuresAnswerSerializer(answer).data)
