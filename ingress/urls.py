from django.urls import path

from ingress.api.views import GmailBatchView, GmailPushView

urlpatterns = [
    path("gmail", GmailPushView.as_view(), name="ingress-gmail"),
    path("gmail/batch", GmailBatchView.as_view(), name="ingress-gmail-batch"),
]
