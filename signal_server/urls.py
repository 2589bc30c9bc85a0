from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from signal_server.health import health

admin.site.site_header = "Signal Server"
admin.site.site_title = "Signal Server admin"
admin.site.index_title = "Operations"

urlpatterns = [
    path("health", health, name="health"),
    path("api/ingress/", include("ingress.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]
