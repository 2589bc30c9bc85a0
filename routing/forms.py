from django import forms
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

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
        fields = ["field", "operator", "value", "case_sensitive"]
        widgets = {"value": forms.TextInput(attrs={"size": 60})}


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
    sender = forms.CharField(
        required=False, max_length=500, help_text="As pushed, e.g. Jean Dupont <jean@client.fr>."
    )
    subject = forms.CharField(required=False, max_length=2000)
    body = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 100}),
        help_text="HTML accepted: body conditions see its text view, exactly as at ingress.",
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
