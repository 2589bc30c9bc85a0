"""Admin for endpoints, settings and the delivery history (attempts, replay, test webhooks)."""

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from webhooks import outcomes, signing
from webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint, WebhookSettings
from webhooks.services import (
    DeliveryNotReplayable,
    deliveries_replay_failed,
    delivery_replay,
    endpoint_test_send,
    endpoints_activate,
    endpoints_deactivate,
)

STATUS_COLOURS = {"succeeded": "#1a7f37", "failed": "#cf222e", "pending": "#9a6700", "sending": "#0969da"}


def status_badge(status: str, label: str | None = None):
    if not status:
        return "—"
    return format_html('<b style="color:{}">{}</b>', STATUS_COLOURS.get(status, "inherit"), label or status)


# --- endpoints ---------------------------------------------------------------------------------------------
class WebhookEndpointForm(forms.ModelForm):
    generate_secret = forms.BooleanField(
        required=False,
        label="Generate a new signing secret",
        help_text="Replaces the secret on save; give the new one to the receiver, or its verification will fail.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = "__all__"
        widgets = {"secret": forms.TextInput(attrs={"size": 60, "autocomplete": "off", "spellcheck": "false"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            # New endpoints are signed unless staff clear the field.
            self.fields["secret"].initial = signing.secret_generate()

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("generate_secret"):
            cleaned["secret"] = signing.secret_generate()
            self.instance.secret = cleaned["secret"]
        return cleaned


class ReplayRangeForm(forms.Form):
    since = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    until = forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("since") and cleaned.get("until") and cleaned["since"] >= cleaned["until"]:
            raise ValidationError("The start of the range must be before its end.")
        return cleaned


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = (
        "name", "url_display", "is_active", "is_default", "delivery_mode", "signing", "last_delivery", "deactivated",
    )
    list_filter = ("is_active", "is_default", "delivery_mode")
    search_fields = ("name", "url")
    readonly_fields = ("deactivated_reason", "deactivated_at", "created_at", "updated_at")
    actions = ("send_test_webhook", "activate", "deactivate", "replay_failed")
    fieldsets = (
        (None, {"fields": ("name", "url", "is_active", "is_default")}),
        ("Signing", {"fields": ("secret", "generate_secret")}),
        (
            "Sending",
            {"fields": ("delivery_mode", "fallback_on_415", "success_requires_json", "timeout_seconds", "verify_tls",
                        "headers")},
        ),
        ("History", {"fields": ("deactivated_reason", "deactivated_at", "created_at", "updated_at")}),
    )

    def get_queryset(self, request):
        last = WebhookDelivery.objects.filter(endpoint=OuterRef("pk")).order_by("-created_at", "-id")
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_delivery_status=Subquery(last.values("status")[:1]),
                last_delivery_at=Subquery(last.values("created_at")[:1]),
            )
        )

    @admin.display(description="URL", ordering="url")
    def url_display(self, obj):
        return obj.url_masked

    @admin.display(description="Signing secret")
    def signing(self, obj):
        return obj.secret_masked or "unsigned"

    @admin.display(description="Last delivery", ordering="last_delivery_at")
    def last_delivery(self, obj):
        if not obj.last_delivery_status:
            return "—"
        when = timezone.localtime(obj.last_delivery_at).strftime("%Y-%m-%d %H:%M")
        return format_html("{} <small>{}</small>", status_badge(obj.last_delivery_status), when)

    @admin.display(description="Deactivated because")
    def deactivated(self, obj):
        return obj.deactivated_reason or ""

    @admin.action(description="Send a test webhook", permissions=["change"])
    def send_test_webhook(self, request, queryset):
        for endpoint in queryset:
            delivery = endpoint_test_send(endpoint)
            url = reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])
            self.message_user(
                request,
                format_html('Test webhook to {} queued: <a href="{}">delivery #{}</a>.', endpoint.name, url,
                            delivery.pk),
                messages.SUCCESS,
            )

    @admin.action(description="Activate selected endpoints", permissions=["change"])
    def activate(self, request, queryset):
        count = endpoints_activate(queryset)
        self.message_user(
            request,
            f"{count} endpoint(s) activated. Deliveries that failed while inactive can be replayed with "
            "'Replay failed deliveries…'.",
            messages.SUCCESS,
        )

    @admin.action(description="Deactivate selected endpoints", permissions=["change"])
    def deactivate(self, request, queryset):
        defaults = list(queryset.filter(is_default=True, is_active=True).values_list("name", flat=True))
        count = endpoints_deactivate(queryset, reason=f"Deactivated in admin by {request.user.get_username()}")
        self.message_user(request, f"{count} endpoint(s) deactivated.", messages.SUCCESS)
        if defaults:
            self.message_user(
                request,
                f"Not deactivated: {', '.join(defaults)} is the default endpoint; make another one the default first.",
                messages.WARNING,
            )

    @admin.action(description="Replay failed deliveries in a time range…", permissions=["change"])
    def replay_failed(self, request, queryset):
        zone = ZoneInfo(WebhookSettings.load().time_zone)
        with timezone.override(zone):
            if "apply" in request.POST:
                form = ReplayRangeForm(request.POST)
                if form.is_valid():
                    for endpoint in queryset:
                        try:
                            count = deliveries_replay_failed(
                                endpoint, form.cleaned_data["since"], form.cleaned_data["until"]
                            )
                        except DeliveryNotReplayable as exc:
                            self.message_user(request, str(exc), messages.ERROR)
                        else:
                            self.message_user(
                                request, f"{endpoint.name}: {count} failed deliveries queued again.", messages.SUCCESS
                            )
                    return None
            else:
                now = timezone.localtime()
                form = ReplayRangeForm(initial={"since": now - timedelta(days=1), "until": now})
            context = {
                **self.admin_site.each_context(request),
                "title": "Replay failed deliveries",
                "opts": self.model._meta,
                "endpoints": queryset,
                "form": form,
                "time_zone": str(zone),
                "action_name": "replay_failed",
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/webhooks/webhookendpoint/replay_failed.html", context)


@admin.register(WebhookSettings)
class WebhookSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "sending_enabled", "time_zone", "window_start", "window_end", "outside_window_policy")

    def has_add_permission(self, request):
        return not WebhookSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


# --- deliveries --------------------------------------------------------------------------------------------
class FailureReasonFilter(admin.SimpleListFilter):
    title = "failure reason"
    parameter_name = "failure_reason"

    def lookups(self, request, model_admin):
        return list(outcomes.FAILURE_REASONS.items())

    def queryset(self, request, queryset):
        return queryset.filter(failure_reason=self.value()) if self.value() else queryset


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    ordering = ("-number",)
    fields = (
        "number", "series", "started", "outcome", "duration", "failure_reason", "error", "response_snippet",
        "delivery_mode", "request_size", "headers_sent",
    )
    readonly_fields = fields
    verbose_name_plural = "attempts (newest first)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="started")
    def started(self, obj):
        return timezone.localtime(obj.started_at).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="status")
    def outcome(self, obj):
        if obj.in_flight:
            return status_badge("sending", "in flight")
        label = f"HTTP {obj.status_code}" if obj.status_code else "no answer"
        return status_badge("succeeded" if obj.succeeded else "failed", label)

    @admin.display(description="duration")
    def duration(self, obj):
        return "—" if obj.in_flight else f"{obj.duration_ms} ms"

    @admin.display(description="request headers (redacted)")
    def headers_sent(self, obj):
        return format_html("<pre style='margin:0'>{}</pre>", json.dumps(obj.request_headers, indent=1))


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "id", "created_at", "endpoint", "subject", "status_display", "attempt_count", "last_status_code",
        "failure_reason", "next_attempt_at", "is_test",
    )
    list_display_links = ("id", "created_at")
    list_filter = ("status", "endpoint", FailureReasonFilter, "is_test")
    search_fields = ("email__email_id", "email__subject")
    date_hierarchy = "created_at"
    list_select_related = ("endpoint", "email")
    actions = ("replay",)
    inlines = [DeliveryAttemptInline]
    fieldsets = (
        (None, {"fields": ("status_display", "endpoint", "email_link", "is_test", "webhook_id", "routing_rule")}),
        (
            "Progress",
            {"fields": ("series", "attempt_count", "series_attempt_count", "next_attempt_at", "last_attempt_at",
                        "last_status_code", "failure_reason", "last_error", "lease_expires_at")},
        ),
        ("Dates", {"fields": ("created_at", "completed_at", "replayed_at", "updated_at")}),
        ("Payload", {"fields": ("payload_pretty",)}),
    )
    readonly_fields = (
        "status_display", "endpoint", "email_link", "is_test", "webhook_id", "routing_rule", "series",
        "attempt_count", "series_attempt_count", "next_attempt_at", "last_attempt_at", "last_status_code",
        "failure_reason", "last_error", "lease_expires_at", "created_at", "completed_at", "replayed_at",
        "updated_at", "payload_pretty",
    )

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name.endswith("_changelist"):
            queryset = queryset.defer("payload_json", "email__body", "email__links", "email__decision")
        return queryset

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # History is read-only: a saved form would race the workers that own the delivery's state.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_replay_permission(self, request):
        return request.user.has_perm("webhooks.change_webhookdelivery")

    @admin.display(description="subject", ordering="email__subject")
    def subject(self, obj):
        if obj.is_test:
            return "(test webhook)"
        return (obj.email.subject[:80] or "(no subject)") if obj.email else "—"

    @admin.display(description="status", ordering="status")
    def status_display(self, obj):
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="e-mail")
    def email_link(self, obj):
        if not obj.email_id:
            return "—"
        url = reverse("admin:ingress_inboundemail_change", args=[obj.email_id])
        return format_html('<a href="{}">{}</a>', url, obj.email)

    @admin.display(description="payload")
    def payload_pretty(self, obj):
        if not obj.payload_json:
            return "(built at the first attempt)"
        return format_html(
            "<pre style='white-space:pre-wrap;max-height:40em;overflow:auto'>{}</pre>",
            json.dumps(obj.payload, indent=2, ensure_ascii=False),
        )

    @admin.action(description="Replay selected deliveries", permissions=["replay"])
    def replay(self, request, queryset):
        replayed, refused = 0, []
        for delivery in queryset.select_related("endpoint").defer("payload_json").order_by("created_at", "pk"):
            try:
                delivery_replay(delivery)
                replayed += 1
            except DeliveryNotReplayable as exc:
                refused.append(str(exc))
        if replayed:
            self.message_user(request, f"{replayed} deliveries queued again.", messages.SUCCESS)
        for reason in refused[:10]:
            self.message_user(request, reason, messages.WARNING)
        if len(refused) > 10:
            self.message_user(request, f"…and {len(refused) - 10} more could not be replayed.", messages.WARNING)
