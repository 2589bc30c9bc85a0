from django.urls import path

from webhooks.api.views import DeliveryDetailView, DeliveryListView, DeliveryReplayFailedView, DeliveryReplayView

urlpatterns = [
    path("deliveries/", DeliveryListView.as_view(), name="api-delivery-list"),
    path("deliveries/replay_failed/", DeliveryReplayFailedView.as_view(), name="api-delivery-replay-failed"),
    path("deliveries/<int:pk>/", DeliveryDetailView.as_view(), name="api-delivery-detail"),
    path("deliveries/<int:pk>/replay/", DeliveryReplayView.as_view(), name="api-delivery-replay"),
]
