from django.urls import path

from webhooks.api.views import (
    DeliveryCancelView,
    DeliveryDetailView,
    DeliveryListView,
    DeliveryReplayFailedView,
    DeliveryReplayView,
    EndpointCancelPausedView,
    EndpointDetailView,
    EndpointListView,
)

urlpatterns = [
    path("endpoints/", EndpointListView.as_view(), name="api-endpoint-list"),
    path("endpoints/<int:pk>/", EndpointDetailView.as_view(), name="api-endpoint-detail"),
    path("endpoints/<int:pk>/cancel_paused/", EndpointCancelPausedView.as_view(), name="api-endpoint-cancel-paused"),
    path("deliveries/", DeliveryListView.as_view(), name="api-delivery-list"),
    path("deliveries/replay_failed/", DeliveryReplayFailedView.as_view(), name="api-delivery-replay-failed"),
    path("deliveries/<int:pk>/", DeliveryDetailView.as_view(), name="api-delivery-detail"),
    path("deliveries/<int:pk>/replay/", DeliveryReplayView.as_view(), name="api-delivery-replay"),
    path("deliveries/<int:pk>/cancel/", DeliveryCancelView.as_view(), name="api-delivery-cancel"),
]
