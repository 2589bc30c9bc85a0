from django.urls import path

from ingress.api.failures import GmailFailuresView
from ingress.api.views import GmailBatchView, GmailPushView

urlpatterns = [
    path("gmail", GmailPushView.as_view(), name="ingress-gmail"),
    path("gmail/batch", GmailBatchView.as_view(), name="ingress-gmail-batch"),
    path("gmail/failures", GmailFailuresView.as_view(), name="ingress-gmail-failures"),
]
