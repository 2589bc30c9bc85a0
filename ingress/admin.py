import json
import re
from collections import Counter

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, Func, IntegerField, OuterRef, Q
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core.addresses import sender_email_parse
from core.admin import SEARCH_WINDOW, HistoryAdmin, ReadOnlyInline
from core.detectors import DETECTORS
from ingress.identity import email_id_compute
from ingress.models import InboundEmail
from ingress.selectors import email_sample_get, emails_recent, routable_sample_build
from ingress.services import EmailRerunRefused, email_rerun
from routing.forms import RulesTestForm
from routing.models import RoutingRule
from routing.selectors import endpoint_names, endpoints_inactive, rules_preview
from webhooks.models import WebhookDelivery, WebhookEndpoint

EMAIL_ID = re.compile(r"[0-9a-f]{32}")
# Fewer deliveries than this in the statuses a filter wants: the e-mails are read from those deliveries
# (an index on their status) and sorted. More: they are common, and walking the e-mails newest first
# with an indexed EXISTS finds a page, and the capped count, within a few thousand rows.
FEW_DELIVERIES = 10_000


class JSONArrayLength(Func):
    """Length of a JSON array column, computed by the database (so lists never load the links)."""

    function = "json_array_length"
    output_field = IntegerField()

    def as_postgresql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="jsonb_array_length", **extra)


class DetectorFilter(admin.SimpleListFilter):
    """The detectors are known: listing them needs no DISTINCT over every e-mail."""

    title = "detector"
    parameter_name = "detector"

    def lookups(self, request, model_admin):
        return [(name, name) for name in DETECTORS] + [("none", "None")]

    def queryset(self, request, queryset):
        if self.value() in DETECTORS or self.value() == "none":
            return queryset.filter(detector="" if self.value() == "none" else self.value())
        return queryset


class DeliveryOutcomeFilter(admin.SimpleListFilter):
    """Each choice is an EXISTS (or, for a few deliveries, an IN) served by an index of the deliveries'
    status, never a count of every e-mail's deliveries."""

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
        status = WebhookDelivery.Status
        if self.value() == "failed":
            return _with_deliveries(queryset, WebhookDelivery.objects.filter(status=status.FAILED))
        if self.value() == "unfinished":
            return _with_deliveries(queryset, _queued(status.PENDING) | _queued(status.SENDING))
        if self.value() == "succeeded":
            unfinished = WebhookDelivery.objects.filter(status__in=[status.PENDING, status.SENDING, status.FAILED])
            return queryset.filter(_any_delivery(WebhookDelivery.objects)).exclude(_any_delivery(unfinished))
        if self.value() == "none":
            return queryset.exclude(_any_delivery(WebhookDelivery.objects))
        return queryset


def _any_delivery(deliveries) -> Exists:
    return Exists(deliveries.filter(email=OuterRef("pk")))


def _queued(status: str):
    """Deliveries in a queue status, read from the (endpoint, status, created_at) index: naming every
    endpoint lets SQLite seek it by (endpoint, status) instead of scanning the deliveries."""
    return WebhookDelivery.objects.filter(status=status, endpoint__in=WebhookEndpoint.objects.values("pk"))


def _with_deliveries(queryset, deliveries):
    """The e-mails with one of `deliveries`, by whichever of two plans is bounded for their number."""
    if deliveries.order_by()[:FEW_DELIVERIES].count() < FEW_DELIVERIES:
        return queryset.filter(pk__in=deliveries.filter(email__isnull=False).values("email_id"))
    return queryset.filter(_any_delivery(deliveries))


class DeliveryInline(ReadOnlyInline):
    model = WebhookDelivery
    fk_name = "email"
    show_change_link = True
    fields = (
        "delivery_link", "endpoint", "status", "attempt_count", "last_status_code", "failure_reason",
        "last_attempt_at", "next_attempt_at", "completed_at",
    )
    readonly_fields = fields
    verbose_name_plural = "deliveries"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("endpoint").defer("payload_json")

    @admin.display(description="delivery")
    def delivery_link(self, delivery):
        url = reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])
        return format_html('<a href="{}">#{}</a>', url, delivery.pk)


@admin.register(InboundEmail)
class InboundEmailAdmin(HistoryAdmin):
    list_display = (
        "received_at", "subject_display", "sender", "status", "detector_display", "links_count", "deliveries_display",
    )
    list_display_links = ("received_at", "subject_display")
    # Each filter is served by an index that also yields the default order (docs/admin.md, "Large lists").
    list_filter = ("status", DetectorFilter, ("received_at", admin.DateFieldListFilter), DeliveryOutcomeFilter)
    search_fields = ("email_id",)  # shows the search box; get_search_results decides what a query means
    search_help_text = (
        "An email_id, a Gmail message id or a sender address finds it exactly; other text is looked for in the "
        f"subjects of the newest {SEARCH_WINDOW:,} e-mails of the list."
    )
    # Sorting by another column would sort the whole history on each page.
    sortable_by = ("received_at",)
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
            queryset = queryset.only(
                "received_at", "subject", "sender", "status", "detector", "email_id"
            ).annotate(links_total=JSONArrayLength("links"))
        return queryset

    def get_changelist_instance(self, request):
        """The page's deliveries, counted by status in one query over those e-mails alone."""
        changelist = super().get_changelist_instance(request)
        emails = {email.pk: email for email in changelist.result_list}
        for email in emails.values():
            email.delivery_counts = Counter()
        page_deliveries = WebhookDelivery.objects.filter(email__in=emails).order_by()
        for email_pk, status in page_deliveries.values_list("email_id", "status"):
            emails[email_pk].delivery_counts[status] += 1
        return changelist

    def get_search_results(self, request, queryset, search_term):
        """Exact matches on indexed columns; a word, on the subjects of a bounded window (docs/admin.md)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        if EMAIL_ID.fullmatch(term.lower()):
            return queryset.filter(email_id=term.lower()), False
        if "@" in term:
            return queryset.filter(sender_email=sender_email_parse(term)), False
        by_message_id = Q(email_id=email_id_compute(subject="", sender_email="", date="", message_id=term))
        in_subject = Q(subject__icontains=term) & self.search_window(queryset, "received_at")
        return queryset.filter(by_message_id | in_subject), False

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

    @admin.display(description="links")
    def links_count(self, email):
        return email.links_total

    @admin.display(description="deliveries")
    def deliveries_display(self, email):
        counts = email.delivery_counts
        if not counts:
            return "–"
        succeeded, failed = counts[WebhookDelivery.Status.SUCCEEDED], counts[WebhookDelivery.Status.FAILED]
        other = counts.total() - succeeded - failed
        parts = [f"{succeeded} ok"]
        if failed:
            parts.append(f"{failed} failed")
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
