import json
import logging
import time

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, InternalError, OperationalError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ingress.api.serializers import (
    GmailBatchAnswerSerializer,
    GmailBatchSerializer,
    GmailPushAnswerSerializer,
    GmailPushSerializer,
    column_length,
)
from ingress.auth import bearer_token_valid, request_signature_valid
from ingress.services import InboundPush, IngestResult, email_ingest

logger = logging.getLogger("ingress")

# The database cannot be reached or written (down, restarting, disk full, a read-only standby): nothing
# was recorded.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, InternalError)
RETRY_AFTER_UNAVAILABLE_SECONDS = 5


def _respond(result: IngestResult) -> Response:
    _bad_request_log(result)
    return Response(result.body, status=result.status_code, headers=result.headers)


def _bad_request_log(result: IngestResult) -> None:
    # The legacy line operators alert on (`INGRESS: 400 Invalid JSON payload`), for every 400.
    if result.status_code == 400:
        logger.warning("INGRESS: 400 %s", result.body.get("message", ""))


def _too_large() -> IngestResult:
    """413, naming the limit so a client can split what it sends (the Apps Script batches below it)."""
    result = IngestResult.refused(413, "Payload too large")
    result.body["max_bytes"] = settings.INGRESS_MAX_BYTES
    return result


def batch_item_answer(result: IngestResult) -> dict:
    """A batch item's answer: the push answer, its HTTP status, and the wait a 429 would have sent."""
    _bad_request_log(result)
    item = {**result.body, "code": result.status_code}
    if "Retry-After" in result.headers:
        item["retry_after"] = int(result.headers["Retry-After"])
    return item


def push_process(item: object, source: str, started: float | None = None) -> IngestResult:
    """Validate one push object and run it through the pipeline (`started`: the request's perf_counter start)."""
    if not isinstance(item, dict):
        return IngestResult.refused(400, "Invalid JSON payload")
    serializer = GmailPushSerializer(data=item)
    if not serializer.is_valid():
        return IngestResult.refused(400, serializer.first_error_message())
    data = serializer.validated_data
    push = InboundPush(
        sender=data["sender"],
        body=data["body"],
        subject=data["subject"],
        date=data["date"],
        message_id=data["message_id"].strip(),
        source=source,
        **serializer.push_extras(),
    )
    return email_ingest(push, started=started)


class JSONAnswers(BaseContentNegotiation):
    """SPEC §3: ingress answers JSON whatever the client accepts (no 406), without parsing Accept."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class IngressView(APIView):
    """Shared edge checks of SPEC §3.2: token, size, optional signature, JSON object.

    Subclasses define `handle_payload(data, source, started)` for the parsed object.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes: list = []
    content_negotiation_class = JSONAnswers

    def post(self, request):
        started = time.perf_counter()  # the answer time recorded with each e-mail counts from here
        try:
            refusal = self._request_refusal(request)
            if refusal:
                return _respond(refusal)
            try:
                data = json.loads(request.body)
            except (ValueError, UnicodeDecodeError, RecursionError):
                return _respond(IngestResult.refused(400, "Invalid JSON payload"))
            if not isinstance(data, dict):
                return _respond(IngestResult.refused(400, "Invalid JSON payload"))
            return self.handle_payload(data, request.headers.get("X-Source", "")[: column_length("source")], started)
        except RequestDataTooBig:
            return _respond(_too_large())
        except DATABASE_UNAVAILABLE:
            logger.exception("INGRESS: 503 database unavailable")
            retry_after = {"Retry-After": str(RETRY_AFTER_UNAVAILABLE_SECONDS)}
            return _respond(IngestResult.refused(503, "Service unavailable", **retry_after))
        except Exception:
            logger.exception("INGRESS: unexpected error")
            return _respond(IngestResult.refused(500, "Internal error"))

    def _request_refusal(self, request) -> IngestResult | None:
        refusal = token_refusal(request)
        if refusal:
            return refusal
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.INGRESS_MAX_BYTES:
            return _too_large()
        return signature_refusal(request, request.body)


def token_refusal(request) -> IngestResult | None:
    """401 unless the request carries one of the PROCESS_API_TOKEN tokens."""
    if not bearer_token_valid(request.META.get("HTTP_AUTHORIZATION", ""), settings.PROCESS_API_TOKENS):
        logger.warning("INGRESS: 401 Unauthorized from %s", request.META.get("REMOTE_ADDR", "?"))
        return IngestResult.refused(401, "Unauthorized")
    return None


def signature_refusal(request, signed: bytes) -> IngestResult | None:
    """401 when INGRESS_HMAC_SECRET is set and `signed` (a POST's body, a GET's query string) is not signed."""
    if settings.INGRESS_HMAC_SECRET and not request_signature_valid(
        settings.INGRESS_HMAC_SECRET,
        request.headers.get("X-Signature-Timestamp", ""),
        request.headers.get("X-Signature", ""),
        signed,
    ):
        logger.warning("INGRESS: 401 Unauthorized (bad or missing request signature)")
        return IngestResult.refused(401, "Unauthorized")
    return None


AUTH_PARAMETERS = [
    OpenApiParameter("X-Source", str, OpenApiParameter.HEADER, required=False, description="Recorded with the e-mail."),
]


class GmailPushView(IngressView):
    @extend_schema(
        operation_id="ingress_gmail_push",
        request={"application/json": GmailPushSerializer},
        responses={code: GmailPushAnswerSerializer for code in (200, 400, 401, 409, 413, 429, 500, 503)},
        parameters=AUTH_PARAMETERS,
        auth=[{"IngressBearer": []}],
        summary="Push one e-mail",
    )
    def post(self, request):
        return super().post(request)

    def handle_payload(self, data: dict, source: str, started: float) -> Response:
        return _respond(push_process(data, source, started))


class GmailBatchView(IngressView):
    @extend_schema(
        operation_id="ingress_gmail_batch",
        request={"application/json": GmailBatchSerializer},
        responses={
            200: GmailBatchAnswerSerializer,
            **{code: GmailPushAnswerSerializer for code in (400, 401, 413, 500, 503)},
        },
        parameters=AUTH_PARAMETERS,
        auth=[{"IngressBearer": []}],
        summary="Push up to 50 e-mails; each item answers on its own",
    )
    def post(self, request):
        return super().post(request)

    def handle_payload(self, data: dict, source: str, started: float) -> Response:
        emails = data.get("emails")
        if not isinstance(emails, list) or not emails:
            return _respond(IngestResult.refused(400, "Missing field: emails"))
        if len(emails) > settings.INGRESS_BATCH_MAX_ITEMS:
            return _respond(IngestResult.refused(400, f"Too many e-mails (at most {settings.INGRESS_BATCH_MAX_ITEMS})"))
        results = []
        for item in emails:
            try:
                result = push_process(item, source, started)
            except DATABASE_UNAVAILABLE:
                raise  # the whole batch is a 503; on the retry, items already recorded answer already_processed
            except Exception:
                logger.exception("INGRESS: unexpected error in batch item")
                result = IngestResult.refused(500, "Internal error")
            results.append(batch_item_answer(result))
        return Response({"success": True, "results": results})
