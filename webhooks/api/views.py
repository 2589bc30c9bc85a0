from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response
from rest_framework.views import APIView

from webhooks.api.filters import DeliveryFilter
from webhooks.api.permissions import StaffModelPermissionsWithAttempts
from webhooks.api.serializers import (
    CancelledAnswerSerializer,
    DeliveryDetailSerializer,
    DeliverySerializer,
    EndpointSerializer,
    ErrorSerializer,
    ReplayFailedAnswerSerializer,
    ReplayFailedSerializer,
)
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.selectors import (
    deliveries_list,
    delivery_detail_queryset,
    lanes_health,
)
from webhooks.services.deliveries import (
    DeliveryNotCancellable,
    DeliveryNotReplayable,
    deliveries_cancel,
    deliveries_replay_failed,
    delivery_cancel,
    delivery_replay,
)

# The error answers every history read may give, documented once.
AUTH_ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="No or unknown credentials (`WWW-Authenticate: Token`)."),
    403: OpenApiResponse(
        ErrorSerializer, description="The user is not staff, or lacks the model permission this needs (docs/api.md)."
    ),
}
NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="No such object, or a page past the end.")}
BAD_QUERY = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT, description='A bad query parameter: `{"<parameter>": ["<message>", …]}`.'
    )
}

NOT_REPLAYABLE = {409: OpenApiResponse(ErrorSerializer, description="Not replayable now; `detail` says why.")}
NOT_CANCELLABLE = {409: OpenApiResponse(ErrorSerializer, description="Not waiting any more; `detail` says why.")}



@extend_schema_view(
    get=extend_schema(
        operation_id="deliveries_list",
        summary="Deliveries, newest first",
        responses={200: DeliverySerializer(many=True), **BAD_QUERY, **AUTH_ERRORS, **NOT_FOUND},
    )
)
class DeliveryListView(generics.ListAPIView):
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilter

    def get_queryset(self):
        return deliveries_list()


@extend_schema_view(
    get=extend_schema(
        operation_id="deliveries_retrieve",
        summary="One delivery with its attempts",
        responses={200: DeliveryDetailSerializer, **AUTH_ERRORS, **NOT_FOUND},
    )
)
class DeliveryDetailView(generics.RetrieveAPIView):
    permission_classes = [StaffModelPermissionsWithAttempts]
    serializer_class = DeliveryDetailSerializer
    filter_backends: list = []

    def get_queryset(self):
        return delivery_detail_queryset()


class DeliveryReplayView(generics.GenericAPIView):
    # Answers the delivery with its attempts: change_webhookdelivery and view_deliveryattempt.
    permission_classes = [StaffModelPermissionsWithAttempts]
    serializer_class = DeliveryDetailSerializer
    filter_backends: list = []

    def get_queryset(self):
        return delivery_detail_queryset()

    @extend_schema(
        operation_id="deliveries_replay",
        summary="Replay one finished delivery",
        description=(
            "Re-opens a succeeded or failed delivery: a new attempt series on the same delivery, with the same "
            "payload and `webhook-id`, sent by the worker right away. Answers the re-opened delivery."
        ),
        request=None,
        responses={202: DeliveryDetailSerializer, **AUTH_ERRORS, **NOT_FOUND, **NOT_REPLAYABLE},
    )
    def post(self, request, pk):
        try:
            delivery_replay(self.get_object())
        except DeliveryNotReplayable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(self.get_object()).data, status=status.HTTP_202_ACCEPTED)


class DeliveryCancelView(generics.GenericAPIView):
    permission_classes = [StaffModelPermissionsWithAttempts]
    serializer_class = DeliveryDetailSerializer
    filter_backends: list = []

    def get_queryset(self):
        return delivery_detail_queryset()

    @extend_schema(
        operation_id="deliveries_cancel",
        summary="Cancel one waiting delivery",
        description=(
            "Cancels a pending or paused delivery for good: it is never sent (again), stays in the history, and "
            "can still be replayed. Answers the cancelled delivery."
        ),
        request=None,
        responses={200: DeliveryDetailSerializer, **AUTH_ERRORS, **NOT_FOUND, **NOT_CANCELLABLE},
    )
    def post(self, request, pk):
        try:
            delivery_cancel(self.get_object(), by=request.user.get_username())
        except DeliveryNotCancellable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(self.get_object()).data)


class EndpointListView(generics.ListAPIView):
    serializer_class = EndpointSerializer
    filter_backends: list = []
    pagination_class = None

    def get_queryset(self):
        return WebhookEndpoint.objects.order_by("name")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "lanes": lanes_health(self.get_queryset())}

    @extend_schema(
        operation_id="endpoints_list",
        summary="Endpoints and the health of their lanes",
        description=(
            "Every endpoint with its lane: breaker state and since when, consecutive failures, attempts in flight, "
            "the oldest waiting delivery, success rate and median latency over 24 h. Not paginated."
        ),
        responses={200: EndpointSerializer(many=True), **AUTH_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class EndpointDetailView(generics.RetrieveAPIView):
    serializer_class = EndpointSerializer
    filter_backends: list = []
    queryset = WebhookEndpoint.objects.all()

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if "pk" in self.kwargs:
            context["lanes"] = lanes_health(WebhookEndpoint.objects.filter(pk=self.kwargs["pk"]))
        return context

    @extend_schema(
        operation_id="endpoints_retrieve",
        summary="One endpoint and the health of its lane",
        responses={200: EndpointSerializer, **AUTH_ERRORS, **NOT_FOUND},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class EndpointCancelPausedView(generics.GenericAPIView):
    filter_backends: list = []
    # What this changes are deliveries: their model names the permission asked, change_webhookdelivery.
    queryset = WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PAUSED)

    @extend_schema(
        operation_id="endpoints_cancel_paused",
        summary="Cancel every paused delivery of an endpoint",
        description="For an endpoint retired for good: its paused deliveries are cancelled (and stay replayable).",
        request=None,
        responses={200: CancelledAnswerSerializer, **AUTH_ERRORS, **NOT_FOUND},
    )
    def post(self, request, pk):
        paused = self.get_queryset().filter(endpoint=get_object_or_404(WebhookEndpoint, pk=pk))
        return Response({"cancelled": deliveries_cancel(paused, by=request.user.get_username())})


class DeliveryReplayFailedView(APIView):
    queryset = WebhookDelivery.objects.none()  # names the model whose change permission is asked

    @extend_schema(
        operation_id="deliveries_replay_failed",
        summary="Replay an endpoint's failed deliveries created in a time range",
        request=ReplayFailedSerializer,
        responses={202: ReplayFailedAnswerSerializer, **BAD_QUERY, **AUTH_ERRORS, **NOT_REPLAYABLE},
    )
    def post(self, request):
        query = ReplayFailedSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        endpoint, since, until = (query.validated_data[k] for k in ("endpoint", "since", "until"))
        try:
            replayed = deliveries_replay_failed(endpoint, since, until)
        except DeliveryNotReplayable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        answer = {"replayed": replayed, "endpoint": endpoint, "since": since, "until": until}
        return Response(ReplayFailedAnswerSerializer(answer).data, status=status.HTTP_202_ACCEPTED)
