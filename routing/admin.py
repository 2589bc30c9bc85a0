from urllib.parse import urlsplit

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme

from routing.forms import RoutingConditionForm, RoutingConditionFormSet, RoutingRuleForm
from routing.models import RoutingCondition, RoutingRule
from routing.services import (
    DIRECTIONS,
    rule_delete,
    rule_duplicate,
    rule_move,
    rule_save,
    rules_activate,
    rules_deactivate,
    rules_delete,
    rules_reorder,
)


class RoutingConditionInline(admin.TabularInline):
    model = RoutingCondition
    verbose_name_plural = "conditions"
    form = RoutingConditionForm
    formset = RoutingConditionFormSet
    extra = 1


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    form = RoutingRuleForm
    # The fieldsets show the form's own position field; excluding the model field keeps the form from
    # writing it or checking it against the unique constraint (rule_save in save_model places the rule).
    exclude = ("position",)
    inlines = [RoutingConditionInline]
    list_display = (
        "position",
        "order_controls",
        "name",
        "active",
        "match_mode",
        "conditions_summary",
        "endpoint_display",
        "priority",
        "stop",
    )
    list_display_links = ("name",)
    list_filter = ("is_active", "endpoint", "stop_processing", "priority")
    search_fields = ("name", "conditions__value")
    # The list is the evaluation order: sorting it by another column would make the arrows meaningless.
    sortable_by = ()
    ordering = ("position",)
    actions = ["activate_rules", "deactivate_rules", "duplicate_rules"]
    fieldsets = (
        (None, {"fields": ("name", "position", "is_active", "match")}),
        (
            "Action when the conditions match",
            {
                "fields": ("endpoint", "priority", "stop_processing"),
                "description": "Every matching rule adds its endpoint; a matching rule with 'stop processing' "
                "ends evaluation and keeps the default endpoint out. A stop rule without endpoint drops the "
                "e-mail (ingress answers stopped_by_routing_rule).",
            },
        ),
    )

    class Media:
        css = {"all": ["routing/rules.css"]}
        js = ["routing/rule_order.js", "routing/conditions.js"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("endpoint").prefetch_related("conditions")

    def changelist_view(self, request, extra_context=None):
        extra_context = {"can_reorder": self.has_change_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def get_list_display(self, request):
        columns = super().get_list_display(request)
        return columns if self.has_change_permission(request) else tuple(c for c in columns if c != "order_controls")

    # --- list columns ---------------------------------------------------------------------------
    @admin.display(description="Order")
    def order_controls(self, rule):
        def button(direction, symbol, label):
            url = reverse("admin:routing_routingrule_move", args=[rule.pk, direction])
            return format_html(
                '<button type="submit" class="rule-move" formaction="{}" formmethod="post" formnovalidate '
                'title="{}" aria-label="{} {}">{}</button>',
                url,
                label,
                label,
                rule.name,
                symbol,
            )

        return format_html(
            '<span class="rule-order" data-rule-id="{}">'
            '<span class="rule-drag-handle" draggable="true" title="Drag to reorder">'
            "⠿</span>{}{}</span>",
            rule.pk,
            button("up", "▲", "Move up"),
            button("down", "▼", "Move down"),
        )

    @admin.display(description="Active", boolean=True)
    def active(self, rule):
        return rule.is_active

    @admin.display(description="Match")
    def match_mode(self, rule):
        return rule.match

    @admin.display(description="Stop", boolean=True)
    def stop(self, rule):
        return rule.stop_processing

    @admin.display(description="Conditions")
    def conditions_summary(self, rule):
        if not rule.conditions.all():
            return format_html('<span class="rule-warning">{}</span>', "⚠ no conditions: never matches")
        return rule.summary

    @admin.display(description="Endpoint")
    def endpoint_display(self, rule):
        if rule.endpoint is None:
            return "— (drop)" if rule.stop_processing else "—"
        if not rule.endpoint.is_active:
            return format_html(
                '<span class="rule-warning" title="{}">⚠ {} (inactive)</span>',
                "Matches still count (and still stop); deliveries to an inactive endpoint wait, paused, until it is "
                "activated.",
                rule.endpoint.name,
            )
        return rule.endpoint.name

    # --- saving and deleting keep positions contiguous ------------------------------------------
    def save_model(self, request, obj, form, change):
        moved = "position" in form.changed_data
        rule_save(obj, position=form.cleaned_data.get("position") if moved else None)
        if obj.endpoint is not None and not obj.endpoint.is_active:
            self.message_user(
                request,
                f"Endpoint “{obj.endpoint.name}” is inactive: this rule still matches and "
                f"{'stops' if obj.stop_processing else 'counts'}; its deliveries wait, paused, until the endpoint is "
                "activated again.",
                messages.WARNING,
            )

    def delete_model(self, request, obj):
        rule_delete(obj)

    def delete_queryset(self, request, queryset):
        rules_delete(queryset)

    # --- actions -----------------------------------------------------------------------------------
    @admin.action(description="Activate selected rules", permissions=["change"])
    def activate_rules(self, request, queryset):
        count, refused = rules_activate(queryset)
        self.message_user(request, f"{count} rule(s) activated.", messages.SUCCESS)
        if refused:
            names = ", ".join(f"“{r.name}”" for r in refused)
            self.message_user(
                request,
                f"Not activated: {names}. A rule needs at least one condition, and an endpoint or 'stop processing'.",
                messages.WARNING,
            )

    @admin.action(description="Deactivate selected rules", permissions=["change"])
    def deactivate_rules(self, request, queryset):
        self.message_user(request, f"{rules_deactivate(queryset)} rule(s) deactivated.", messages.SUCCESS)

    @admin.action(description="Duplicate selected rules (as inactive copies)", permissions=["add"])
    def duplicate_rules(self, request, queryset):
        rules = list(queryset.order_by("-position"))
        for rule in rules:
            rule_duplicate(rule)
        self.message_user(request, f"{len(rules)} rule(s) duplicated, each right after its original.", messages.SUCCESS)

    # --- extra views -------------------------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("reorder/", view(self.reorder_view), name="routing_routingrule_reorder"),
            path("<path:object_id>/move/<str:direction>/", view(self.move_view), name="routing_routingrule_move"),
        ] + super().get_urls()

    def _back_to_list(self, request):
        """The list the button was pressed on (its filters kept), else the plain list."""
        changelist = reverse("admin:routing_routingrule_changelist")
        referer = request.headers.get("referer", "")
        safe = url_has_allowed_host_and_scheme(referer, {request.get_host()}, request.is_secure())
        return referer if safe and urlsplit(referer).path == changelist else changelist

    def move_view(self, request, object_id, direction):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if direction not in DIRECTIONS:
            raise Http404("Unknown direction.")
        rule = self.get_object(request, object_id)
        if rule is None:
            raise Http404("No such rule.")
        if not self.has_change_permission(request, rule):
            raise PermissionDenied
        position = rule_move(rule, direction)
        self.message_user(request, f"“{rule.name}” is now at position {position}.", messages.SUCCESS)
        return redirect(self._back_to_list(request))

    def reorder_view(self, request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        try:
            rules_reorder([int(i) for i in request.POST.getlist("ids")])
        except ValueError as exc:
            return JsonResponse({"success": False, "message": str(exc)}, status=400)
        return JsonResponse({"success": True})
