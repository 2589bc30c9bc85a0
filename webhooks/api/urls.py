from django.urls import path

from webhooks.api.views import DeliveryDetailView, DeliveryListView

urlpatterns = [
    path("deliveries/", DeliveryListView.as_view(), name="api-delivery-list"),
    path("deliveries/<int:pk>/", DeliveryDetailView.as_view(), name="api-delivery-detail"),
]
