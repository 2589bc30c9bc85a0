"""Admin for endpoints, settings and the delivery history (attempts, replay, test webhooks)."""

import json
import re
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from core.addresses import sender_email_parse
from core.admin import SEARCH_WINDOW, HistoryAdmin, ReadOnlyInline, SingletonAdmin
from core.secrets import secret_mask
from webhooks import outcomes, signing
from webhooks.forms import WebhookEndpointForm
from webhooks.models import DeliveryAttempt, DeliverySettings, WebhookDelivery, WebhookEndpoint, WorkerHeartbeat
from webhooks.selectors import lanes_health
from webhooks.services.deliveries import (
    DeliveryNotReplayable,
    deliveries_cancel,
    deliveries_replay_failed,
    delivery_replay,
    endpoint_test_send,
)
from webhooks.services.endpoints import endpoint_secret_rotate, endpoints_activate, endpoints_deactivate

STATUS_COLOURS = {
    "succeeded": "#1a7f37", "failed": "#cf222e", "pending": "#9a6700", "sending": "#0969da", "paused": "#8250df",
    "cancelled": "#6e7781",
    # lane states
    "closed": "#1a7f37", "open": "#cf222e", "half_open": "#9a6700", "disabled": "#6e7781",
}


def local_time(value, fmt: str) -> str:
    return timezone.localtime(value).strftime(fmt) if value else "—"


def status_badge(status: str, label: str | None = None):
    if not status:
        return "—"
    return format_html('<b style="color:{}">{}</b>', STATUS_COLOURS.get(status, "inherit"), label or status)


# --- endpoints ---------------------------------------------------------------------------------------------
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
        "name", "url_display", "is_active", "is_default", "signing", "lane_state", "in_flight", "failures_in_a_row",
        "oldest_waiting", "success_24h", "latency_24h", "last_delivery",
    )
    list_filter = ("is_active", "is_default", "receives_alerts", "delivery_mode", "deactivated_reason")
    search_fields = ("name", "url")
    readonly_fields = (
        "lane_health", "signing_secret", "deactivated_reason", "deactivated_note", "deactivated_at", "created_at",
        "updated_at",
    )
    actions = ("send_test_webhook", "activate", "deactivate", "replay_failed", "cancel_paused", "rotate_secret")

    def get_fieldsets(self, request, obj=None):
        # The secret and header values are write-only (webhooks.forms): their fields never hold the stored ones.
        if obj is None:
            url, secret, headers = "url", ("new_secret",), "headers_text"
        elif self.has_change_permission(request, obj):
            url, headers = "url", "headers_text"
            secret = ("signing_secret", "new_secret", *(("remove_secret",) if obj.secret else ()))
        else:
            # View-only staff: masked displays only (a URL can embed a token, as the list shows).
            url, secret, headers = "url_display", ("signing_secret",), "custom_headers"
        return (
            (None, {"fields": ("name", url, "is_active", "is_default", "receives_alerts")}),
            ("Lane", {"fields": ("lane_health", "max_in_flight", "rate_limit_per_minute", "breaker_failures")}),
            ("Signing", {"fields": secret}),
            (
                "Sending",
                {"fields": ("delivery_mode", "fallback_on_415", "success_requires_json", "timeout_seconds",
                            "verify_tls", "retry_on_status", headers)},
            ),
            (
                "History",
                {"fields": ("deactivated_reason", "deactivated_note", "deactivated_at", "created_at", "updated_at")},
            ),
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

    def get_changelist_instance(self, request):
        changelist = super().get_changelist_instance(request)
        health = lanes_health(changelist.result_list)
        for endpoint in changelist.result_list:
            endpoint.lane_figures = health[endpoint.pk]
        return changelist

    def _lane(self, obj):
        """The lane's health, read once per endpoint and request (kept on the row, never on this shared admin)."""
        if not hasattr(obj, "lane_figures"):
            obj.lane_figures = lanes_health([obj])[obj.pk]
        return obj.lane_figures

    @admin.display(description="lane")
    def lane_state(self, obj):
        health = self._lane(obj)
        label = health.state.replace("_", "-")
        if health.state == "disabled" and obj.deactivated_reason:
            label = f"disabled ({obj.deactivated_reason})"
        return status_badge(health.state, label)

    @admin.display(description="in flight")
    def in_flight(self, obj):
        return f"{self._lane(obj).in_flight} / {obj.max_in_flight}"

    @admin.display(description="failures in a row")
    def failures_in_a_row(self, obj):
        return self._lane(obj).consecutive_failures

    @admin.display(description="oldest waiting")
    def oldest_waiting(self, obj):
        health = self._lane(obj)
        if health.oldest_waiting_id is None:
            return "—"
        url = reverse("admin:webhooks_webhookdelivery_change", args=[health.oldest_waiting_id])
        return format_html(
            '<a href="{}">#{}</a> <small>{} ago</small>', url, health.oldest_waiting_id,
            timesince(health.oldest_waiting_at),
        )

    @admin.display(description="success (24 h)")
    def success_24h(self, obj):
        health = self._lane(obj)
        if health.success_rate_24h is None:
            return "—"
        return format_html("{} % <small>of {}</small>", f"{health.success_rate_24h * 100:.1f}", health.attempts_24h)

    @admin.display(description="median latency (24 h)")
    def latency_24h(self, obj):
        latency = self._lane(obj).median_latency_ms_24h
        return "—" if latency is None else f"{latency} ms"

    @admin.display(description="lane health")
    def lane_health(self, obj):
        if obj.pk is None:
            return "—"
        health = self._lane(obj)
        rows = [
            ("state", self.lane_state(obj)),
            ("since", local_time(health.since, "%Y-%m-%d %H:%M:%S")),
            ("open until", local_time(health.open_until, "%H:%M:%S")),
            ("in flight", self.in_flight(obj)),
            ("consecutive failures", health.consecutive_failures),
            ("oldest waiting delivery", self.oldest_waiting(obj)),
            ("success rate, last 24 h", self.success_24h(obj)),
            ("median latency, last 24 h", self.latency_24h(obj)),
        ]
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))

    @admin.display(description="URL", ordering="url")
    def url_display(self, obj):
        return obj.url_masked

    @admin.display(description="Signing secret")
    def signing(self, obj):
        return obj.secret_masked or "unsigned"

    @admin.display(description="Signing secret")
    def signing_secret(self, obj):
        if not obj.secret:
            return "none: deliveries are sent unsigned"
        if not obj.previous_secret_valid(timezone.now()):
            return obj.secret_masked
        return format_html(
            "{}<br><small>The previous secret, {}, still signs deliveries too until {} (rotation overlap).</small>",
            obj.secret_masked, signing.secret_mask(obj.previous_secret),
            local_time(obj.previous_secret_expires_at, "%Y-%m-%d %H:%M"),
        )

    @admin.display(description="Custom headers")
    def custom_headers(self, obj):
        if not obj.headers:
            return "—"
        lines = ((name, secret_mask(value)) for name, value in obj.headers.items())
        return format_html("<pre style='margin:0'>{}</pre>", format_html_join("\n", "{}: {}", lines))

    @admin.display(description="Last delivery", ordering="last_delivery_at")
    def last_delivery(self, obj):
        if not obj.last_delivery_status:
            return "—"
        when = timezone.localtime(obj.last_delivery_at).strftime("%Y-%m-%d %H:%M")
        return format_html("{} <small>{}</small>", status_badge(obj.last_delivery_status), when)

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

    @admin.action(description="Activate selected endpoints (paused deliveries resume)", permissions=["change"])
    def activate(self, request, queryset):
        count = endpoints_activate(queryset)
        self.message_user(request, f"{count} endpoint(s) activated; their paused deliveries resume.", messages.SUCCESS)

    @admin.action(description="Deactivate selected endpoints (deliveries wait, paused)", permissions=["change"])
    def deactivate(self, request, queryset):
        count = endpoints_deactivate(
            queryset, reason=WebhookEndpoint.DeactivatedReason.STAFF,
            note=f"Deactivated in admin by {request.user.get_username()}",
        )
        self.message_user(
            request,
            f"{count} endpoint(s) deactivated. New and waiting deliveries to them wait, paused, until they are "
            "activated again; cancel them with 'Cancel paused deliveries' to drop them.",
            messages.SUCCESS,
        )

    @admin.action(description="Cancel paused deliveries of selected endpoints", permissions=["change"])
    def cancel_paused(self, request, queryset):
        paused = WebhookDelivery.objects.filter(endpoint__in=queryset, status=WebhookDelivery.Status.PAUSED)
        count = deliveries_cancel(paused, by=request.user.get_username())
        self.message_user(request, f"{count} paused deliveries cancelled (replayable from the history).",
                          messages.SUCCESS)

    @admin.action(description="Replay failed deliveries in a time range…", permissions=["change"])
    def replay_failed(self, request, queryset):
        zone = timezone.get_current_timezone()  # the configured one: AdminTimeZoneMiddleware
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

    @admin.action(description="Rotate the signing secret (the current one stays valid for an overlap)…",
                  permissions=["change"])
    def rotate_secret(self, request, queryset):
        """Asks first; then shows each new secret once, on the answer page itself (never in a message, which
        the session or a cookie would keep)."""
        endpoints = list(queryset.order_by("name"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta, "endpoints": endpoints, "now": timezone.now(),
            "overlap_hours": settings.SECRET_ROTATION_OVERLAP_HOURS,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        if "apply" not in request.POST:
            context["title"] = "Rotate signing secrets"
            return TemplateResponse(request, "admin/webhooks/webhookendpoint/rotate_secret.html", context)
        context["title"] = "New signing secrets"
        context["rotations"] = [endpoint_secret_rotate(endpoint) for endpoint in endpoints]
        # Admin's own never_cache marks the page no-store: the secrets stay out of every cache.
        return TemplateResponse(request, "admin/webhooks/webhookendpoint/rotate_secret_done.html", context)


@admin.register(DeliverySettings)
class DeliverySettingsAdmin(SingletonAdmin):
    list_display = ("__str__", "retry_schedule_seconds", "updated_at")


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ("worker_id", "beat_at", "age", "in_flight", "concurrency", "started_at")
    readonly_fields = ("worker_id", "beat_at", "in_flight", "concurrency", "started_at")

    @admin.display(description="seconds since the beat")
    def age(self, beat):
        return round((timezone.now() - beat.beat_at).total_seconds())

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# --- deliveries --------------------------------------------------------------------------------------------
EMAIL_ID = re.compile(r"[0-9a-f]{32}")
WEBHOOK_ID = re.compile(r"msg_([0-9a-f]{32})")


class DeliveryStatusFilter(admin.SimpleListFilter):
    """Each status through an index: the partial (status, created_at) ones in creation order, and for the
    queue's statuses the (endpoint, status, created_at) one, sought with every endpoint's id (listed from the
    small endpoint table); the queue is then sorted, as it is small."""

    title = "status"
    parameter_name = "status__exact"

    def lookups(self, request, model_admin):
        return WebhookDelivery.Status.choices

    def queryset(self, request, queryset):
        status = WebhookDelivery.Status
        if self.value() not in status.values:
            return queryset
        queryset = queryset.filter(status=self.value())
        if self.value() in (status.PENDING, status.SENDING):
            queryset = queryset.filter(endpoint_id__in=list(WebhookEndpoint.objects.values_list("pk", flat=True)))
        return queryset


class FailureReasonFilter(admin.SimpleListFilter):
    title = "failure reason"
    parameter_name = "failure_reason"

    def lookups(self, request, model_admin):
        return list(outcomes.FAILURE_REASONS.items())

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        # The `<> ''` the value implies, spelled out: SQLite uses delivery_failure_reason_idx only then.
        return queryset.filter(failure_reason=self.value()).exclude(failure_reason="")


class IsTestFilter(admin.SimpleListFilter):
    title = "test webhook"
    parameter_name = "is_test__exact"

    def lookups(self, request, model_admin):
        return [("1", "Yes"), ("0", "No")]

    def queryset(self, request, queryset):
        if self.value() in ("0", "1"):
            return queryset.filter(is_test=self.value() == "1")
        return queryset


class DeliveryAttemptInline(ReadOnlyInline):
    model = DeliveryAttempt
    ordering = ("-number",)
    fields = (
        "number", "series", "started", "outcome", "duration", "failure_reason", "error", "response_snippet",
        "delivery_mode", "request_size", "headers_sent",
    )
    readonly_fields = fields
    verbose_name_plural = "attempts (newest first)"

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
class WebhookDeliveryAdmin(HistoryAdmin):
    list_display = (
        "id", "created_at", "endpoint", "subject", "status_display", "attempt_count", "last_status_code",
        "failure_reason", "next_attempt_at", "is_test",
    )
    list_display_links = ("id", "created_at")
    # Each filter is served by an index in creation order (docs/admin.md, "Large lists").
    list_filter = (DeliveryStatusFilter, "endpoint", FailureReasonFilter, IsTestFilter)
    search_fields = ("email__email_id",)  # shows the search box; get_search_results decides what a query means
    search_help_text = (
        "An email_id, a webhook id (msg_…) or a delivery number finds it exactly; an address or other text is "
        f"looked for in the sender or subject of the newest {SEARCH_WINDOW:,} deliveries of the list."
    )
    # Sorting by another column would sort the whole history on each page.
    sortable_by = ("id", "created_at")
    list_select_related = ("endpoint", "email")
    actions = ("replay", "cancel")
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
            queryset = queryset.only(
                "created_at", "status", "attempt_count", "last_status_code", "failure_reason", "next_attempt_at",
                "is_test", "endpoint__name", "email__subject",
            )
        return queryset

    def get_search_results(self, request, queryset, search_term):
        """Exact matches on indexed columns; an address or a word, within a bounded window (docs/admin.md)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if EMAIL_ID.fullmatch(term.lower()):
            return queryset.filter(email__email_id=term.lower()), False
        if webhook := WEBHOOK_ID.fullmatch(term.lower()):
            return queryset.filter(uuid=webhook.group(1)), False
        if (number := term.lstrip("#")).isascii() and number.isdigit() and len(number) <= 18:
            return queryset.filter(pk=int(number)), False
        queryset = queryset.filter(self.search_window(queryset, "created_at"))
        if "@" in term:
            return queryset.filter(email__sender_email=sender_email_parse(term)), False
        return queryset.filter(email__subject__icontains=term), False

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

    @admin.action(description="Cancel selected waiting deliveries (pending or paused)", permissions=["replay"])
    def cancel(self, request, queryset):
        selected = queryset.count()
        count = deliveries_cancel(queryset, by=request.user.get_username())
        self.message_user(request, f"{count} deliveries cancelled.", messages.SUCCESS)
        if selected > count:
            self.message_user(
                request, f"{selected - count} selected deliveries were not waiting (only pending or paused ones are "
                "cancelled).", messages.WARNING,
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
