from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from ingress.api.history import EmailDetailView, EmailListView
from ops.api import WebhookLogsView
from ops.health import health, health_ready
from ops.metrics import metrics_view
from ops.overview import overview_view

admin.site.site_header = "Signal Server"
admin.site.site_title = "Signal Server admin"
admin.site.index_title = "Operations"
admin.site.index_template = "admin/overview_index.html"

handler404 = "core.errors.not_found"
handler500 = "core.errors.server_error"

urlpatterns = [
    path("health", health, name="health"),
    path("health/ready", health_ready, name="health-ready"),
    path("metrics", metrics_view, name="metrics"),
    path("api/ingress/", include("ingress.urls")),
    path("api/webhooks/", include("webhooks.api.urls")),
    path("api/emails/", EmailListView.as_view(), name="api-email-list"),
    path("api/emails/<str:email_id>/", EmailDetailView.as_view(), name="api-email-detail"),
    path("api/webhook_logs", WebhookLogsView.as_view(), name="api-webhook-logs"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/overview/", admin.site.admin_view(overview_view), name="admin-overview"),
    path("admin/", admin.site.urls),
]
