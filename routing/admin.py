from django.contrib import admin

from routing.models import RoutingCondition, RoutingRule


class RoutingConditionInline(admin.TabularInline):
    model = RoutingCondition
    extra = 1


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    list_display = ("position", "name", "is_active", "match", "endpoint", "priority", "stop_processing")
    list_display_links = ("name",)
    list_filter = ("is_active", "endpoint")
    inlines = [RoutingConditionInline]
