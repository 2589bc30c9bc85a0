import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Func, IntegerField, Q
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from ingress.models import InboundEmail
from ingress.selectors import email_sample_get, emails_recent, routable_sample_build
from ingress.services import EmailRerunRefused, email_rerun
from routing.forms import RulesTestForm
from routing.models import RoutingRule
from routing.selectors import endpoint_names, endpoints_inactive, rules_preview
from webhooks.models import WebhookDelivery


class JSONArrayLength(Func):
    """Length of a JSON array column, computed by the database (so lists never load the links)."""

    function = "json_array_length"
    output_field = IntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="jsonb_array_length", **extra)


class DeliveryOutcomeFilter(admin.SimpleListFilter):
    title = "deliveries"
    parameter_name = "deliveries"

    def lookups(self, request, model_admin):
        return [
            ("failed", "Some failed"),
            ("unfinished", "Some pending or sending"),
            ("succeeded", "All succeeded"),
            ("none", "None"),
        ]

    def queryset(self, request, queryset):
        unfinished = [WebhookDelivery.Status.PENDING, WebhookDelivery.Status.SENDING]
        if self.value() == "failed":
            return queryset.filter(deliveries__status=WebhookDelivery.Status.FAILED).distinct()
        if self.value() == "unfinished":
            return queryset.filter(deliveries__status__in=unfinished).distinct()
        if self.value() == "succeeded":
            return queryset.filter(deliveries__isnull=False).exclude(
                deliveries__status__in=[*unfinished, WebhookDelivery.Status.FAILED]
            ).distinct()
        if self.value() == "none":
            return queryset.filter(deliveries__isnull=True)
        return queryset


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fk_name = "email"
    extra = 0
    can_delete = False
    show_change_link = True
    fields = (
        "delivery_link", "endpoint", "status", "attempt_count", "last_status_code", "failure_reason",
        "last_attempt_at", "next_attempt_at", "completed_at",
    )
    readonly_fields = fields
    verbose_name_plural = "deliveries"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("endpoint").defer("payload_json")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="delivery")
    def delivery_link(self, delivery):
        url = reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])
        return format_html('<a href="{}">#{}</a>', url, delivery.pk)


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin):
    list_display = (
        "received_at", "subject_display", "sender", "status", "detector_display", "links_count", "deliveries_display",
    )
    list_display_links = ("received_at", "subject_display")
    list_filter = ("status", "detector", ("received_at", admin.DateFieldListFilter), DeliveryOutcomeFilter, "source")
    search_fields = ("email_id", "subject", "sender", "sender_email", "message_id")
    date_hierarchy = "received_at"
    list_per_page = 50
    actions = ["rerun_through_pipeline"]
    inlines = [DeliveryInline]
    fieldsets = (
        (None, {"fields": ("received_at", "status", "email_id", "message_id", "source")}),
        ("E-mail", {"fields": ("sender", "sender_email", "subject", "date")}),
        ("Recipients, headers and attachments", {"fields": ("recipients_table", "headers_table", "attachments_table")}),
        ("Detection", {
            "fields": ("detector", "delivery_time", "is_urgent", "webhooks_time_start", "webhooks_time_end",
                       "deliver_after"),
        }),
        ("Links", {"fields": ("links_table",)}),
        ("Decision", {"fields": ("decision_pretty",)}),
        ("Body", {"fields": ("body_preview", "body_raw"), "classes": ("collapse",)}),
    )
    readonly_fields = [f.name for f in InboundEmail._meta.fields] + [
        "recipients_table", "headers_table", "attachments_table", "links_table", "decision_pretty", "body_raw",
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.resolver_match and request.resolver_match.url_name.endswith("changelist"):
            delivery_status = WebhookDelivery.Status
            queryset = queryset.defer("body", "links", "decision", "recipients", "headers", "attachments").annotate(
                links_total=JSONArrayLength("links"),
                deliveries_total=Count("deliveries"),
                deliveries_succeeded=Count("deliveries", filter=Q(deliveries__status=delivery_status.SUCCEEDED)),
                deliveries_failed=Count("deliveries", filter=Q(deliveries__status=delivery_status.FAILED)),
            )
        return queryset

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Recorded e-mails are history: the detail page is read-only; the list keeps its actions.
        return obj is None and super().has_change_permission(request, obj)

    @admin.display(description="subject", ordering="subject")
    def subject_display(self, email):
        return (email.subject[:80] + "…") if len(email.subject) > 80 else (email.subject or "(no subject)")

    @admin.display(description="detector", ordering="detector")
    def detector_display(self, email):
        return email.detector or "–"

    @admin.display(description="links", ordering="links_total")
    def links_count(self, email):
        return email.links_total

    @admin.display(description="deliveries", ordering="deliveries_total")
    def deliveries_display(self, email):
        if not email.deliveries_total:
            return "–"
        other = email.deliveries_total - email.deliveries_succeeded - email.deliveries_failed
        parts = [f"{email.deliveries_succeeded} ok"]
        if email.deliveries_failed:
            parts.append(f"{email.deliveries_failed} failed")
        if other:
            parts.append(f"{other} pending")
        url = reverse("admin:webhooks_webhookdelivery_changelist") + f"?email__id__exact={email.pk}"
        return format_html('<a href="{}">{}</a>', url, ", ".join(parts))

    @admin.display(description="recipients")
    def recipients_table(self, email):
        rows = [(kind.replace("_", "-"), ", ".join(found)) for kind, found in email.recipients.items() if found]
        return _table(("field", "addresses"), rows) if rows else "Not sent by the script."

    @admin.display(description="headers")
    def headers_table(self, email):
        return _table(("name", "value"), email.headers.items()) if email.headers else "Not sent by the script."

    @admin.display(description="attachments")
    def attachments_table(self, email):
        if not email.attachments:
            return "None sent by the script."
        rows = (
            (item.get("name", ""), filesizeformat(item.get("size", 0)), item.get("content_type", ""))
            for item in email.attachments
        )
        return _table(("name", "size", "content type"), rows)

    @admin.display(description="links")
    def links_table(self, email):
        if not email.links:
            return "No provider link."
        rows = format_html_join(
            "",
            '<tr><td>{}</td><td><a href="{}" rel="noopener noreferrer" target="_blank">{}</a></td><td>{}</td></tr>',
            ((link.get("provider", ""), link.get("raw_url", ""), link.get("raw_url", ""), link.get("direct_url", ""))
             for link in email.links),
        )
        return format_html(
            "<table><thead><tr><th>provider</th><th>link</th><th>direct download</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="decision")
    def decision_pretty(self, email):
        return format_html("<pre>{}</pre>", json.dumps(email.decision, indent=2, ensure_ascii=False, sort_keys=True))

    @admin.display(description="body (raw, as forwarded)")
    def body_raw(self, email):
        return format_html('<pre style="white-space: pre-wrap; max-height: 30em; overflow: auto">{}</pre>', email.body)

    @admin.action(description="Re-run selected e-mails through the pipeline", permissions=["change"])
    def rerun_through_pipeline(self, request, queryset):
        created = kept = count = 0
        for email in queryset.only("pk"):
            try:
                result = email_rerun(email, by=request.user.get_username())
            except EmailRerunRefused as exc:
                self.message_user(request, f"Nothing re-run: {exc}", messages.ERROR)
                return
            count += 1
            created += len(result.created)
            kept += result.kept
        level = messages.SUCCESS if created else messages.WARNING
        self.message_user(
            request,
            f"Re-ran {count} e-mail(s): {created} new deliver{'y' if created == 1 else 'ies'} enqueued; "
            f"{kept} endpoint(s) already had one (replay those deliveries to resend them).",
            level,
        )

    def get_urls(self):
        view = self.admin_site.admin_view(self.rules_test_view)
        return [path("rules-test/", view, name="ingress_rules_test"), *super().get_urls()]

    def rules_test_view(self, request):
        """What the routing rules decide for a sample or a recorded e-mail, right now (nothing is sent)."""
        if not (self.has_view_permission(request) and request.user.has_perm("routing.view_routingrule")):
            raise PermissionDenied
        recent = list(emails_recent())
        explanation = email = None
        if request.method == "POST":
            form = RulesTestForm(request.POST, recent=recent)
            picked = form.cleaned_data["email"] if form.is_valid() else None
        else:
            form, picked = RulesTestForm(recent=recent), request.GET.get("email")
        sample = email_sample_get(picked)
        if sample:
            # The form then shows the recorded e-mail, and can be edited and sent again.
            form = RulesTestForm(sample, recent=recent)
        if form.is_bound and form.is_valid():
            email = routable_sample_build(form.cleaned_data)
            explanation = rules_preview(email)
        context = {
            **self.admin_site.each_context(request),
            "opts": RoutingRule._meta,
            "title": "Test routing rules",
            "form": form,
            "explanation": explanation,
            "email": email,
            **_outcome(explanation),
        }
        return TemplateResponse(request, "admin/routing/routingrule/test_rules.html", context)


def _table(heads: tuple, rows) -> str:
    """A small read-only table, every cell escaped."""
    cells = ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows)
    return format_html(
        "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>",
        format_html_join("", "<th>{}</th>", ((head,) for head in heads)),
        format_html_join("", "<tr>{}</tr>", cells),
    )


def _outcome(explanation) -> dict:
    """Endpoint names and the default endpoint's fate, for the decision shown on the test page."""
    if explanation is None:
        return {}
    names = endpoint_names()
    inactive = endpoints_inactive()
    decision = explanation.decision

    def name_of(endpoint_id) -> str:
        return names.get(endpoint_id, f"#{endpoint_id}")

    return {
        "deliveries": [{"endpoint": name_of(t.endpoint_id), "rule": t.rule} for t in decision.targets],
        "paused": [name_of(t.endpoint_id) for t in decision.targets if t.endpoint_id in inactive],
        "default_endpoint": names.get(decision.default_endpoint_id, ""),
        "default_state": _default_state(decision),
        "default_via": _default_via(decision),
    }


def _default_state(decision) -> str:
    """The default endpoint's fate, as the test page words it."""
    if decision.default_endpoint_id is None:
        return "none"
    if decision.default_added:
        return "added"
    if decision.default_suppressed:
        return "suppressed"
    return "via_rule"


def _default_via(decision):
    """The first rule that targets the default endpoint itself, if any."""
    return next((t.rule for t in decision.targets if t.endpoint_id == decision.default_endpoint_id and t.rule), None)
