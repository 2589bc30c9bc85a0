import json

from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from core.addresses import address_list_parse
from routing.conditions import DETECTOR_VALUES, FIELD_OPERATORS, HEADER_NAME
from routing.models import RoutingCondition, RoutingRule

ACTIVE_RULE_NEEDS_A_CONDITION = (
    "An active rule needs at least one condition. Add one, or untick 'Active' to keep the rule as a draft."
)


class RoutingRuleForm(forms.ModelForm):
    # Not the model field: a typed position moves the rule there and shifts the others
    # (routing.services.rule_save), so it must not be checked against the unique constraint as is.
    position = forms.IntegerField(
        required=False,
        min_value=1,
        # Compared with the value shown when the form was opened, so saving an untouched form never
        # undoes a move made meanwhile (from the list or by someone else).
        show_hidden_initial=True,
        help_text="1 runs first. Empty: a new rule goes to the end. Another number moves the rule there "
        "and shifts the rules in between.",
    )

    class Meta:
        model = RoutingRule
        # Every model field but position (the declared field above stands in for it).
        fields = ["name", "is_active", "match", "endpoint", "priority", "stop_processing"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial.setdefault("position", self.instance.position)
        if "endpoint" in self.fields:
            self.fields["endpoint"].label_from_instance = lambda e: e.name if e.is_active else f"{e.name} (inactive)"


class RoutingConditionForm(forms.ModelForm):
    class Meta:
        model = RoutingCondition
        fields = ["field", "operator", "header_name", "value", "case_sensitive"]
        widgets = {
            # routing/conditions.js offers, for the field chosen, only its operators.
            "field": forms.Select(attrs={"data-operators": json.dumps(FIELD_OPERATORS)}),
            "header_name": forms.TextInput(attrs={"size": 14, "placeholder": "list-id"}),
            "value": forms.TextInput(attrs={"size": 50}),
        }


class RoutingConditionFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        kept = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if self.instance.is_active and not kept:
            raise ValidationError(ACTIVE_RULE_NEEDS_A_CONDITION)


class RulesTestForm(forms.Form):
    email = forms.TypedChoiceField(
        label="Recent e-mail",
        required=False,
        coerce=int,
        empty_value=None,
        help_text="Picking one replaces the fields below with that e-mail, which you can then edit.",
    )
    sender = forms.CharField(required=False, max_length=500, help_text="As pushed, e.g. Jean Dupont <jean@client.fr>.")
    subject = forms.CharField(required=False, max_length=2000)
    body = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 100}),
        help_text="HTML accepted: body conditions see its text view, exactly as at ingress.",
    )
    detector = forms.ChoiceField(
        required=False,
        choices=[("", "From the body, as ingress detects it")] + [(d, d) for d in DETECTOR_VALUES],
    )
    is_urgent = forms.ChoiceField(
        label="Urgent",
        required=False,
        choices=[("", "From the body, as ingress detects it"), ("yes", "Urgent"), ("no", "Not urgent")],
    )
    links = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 100}),
        help_text="Links, one per line; provider and number-of-links conditions see the provider links among them. "
        "Empty: the links found in the body.",
    )
    recipients = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 100}),
        help_text="To, Cc and Delivered-To addresses, separated by commas or new lines.",
    )
    headers = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 100}),
        help_text="One per line, as Name: value (e.g. List-Id: <news.acme.fr>): what the Apps Script would send.",
    )

    def __init__(self, *args, recent=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].choices = [("", "—")] + [
            (e.pk, f"{e.received_at:%Y-%m-%d %H:%M} · {e.subject[:70] or '(no subject)'} · {e.sender_email}")
            for e in recent
        ]

    def clean(self) -> dict:
        data = super().clean()
        if data.get("email") is None and not any((data.get(k) or "").strip() for k in ("sender", "subject", "body")):
            raise ValidationError("Paste a sample e-mail (sender, subject or body), or pick a recent one.")
        return data

    def clean_recipients(self) -> list[str]:
        """Canonical addresses, as ingress reads the To/Cc/Delivered-To headers (`Name <a@b>, "Doe, J" <c@d>`)."""
        return address_list_parse(self.cleaned_data["recipients"].splitlines())

    def clean_headers(self) -> dict[str, str | list[str]]:
        """`{name: value}` as the Apps Script sends them; a header given twice keeps both values."""
        values: dict[str, list[str]] = {}
        for number, line in enumerate(self.cleaned_data["headers"].splitlines(), start=1):
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            name = name.strip().lower()
            if not colon or not HEADER_NAME.fullmatch(name):
                raise ValidationError(
                    f"Line {number}: write each header as Name: value (e.g. List-Id: <news.acme.fr>)."
                )
            values.setdefault(name, []).append(value.strip())
        return {name: found[0] if len(found) == 1 else found for name, found in values.items()}
