"""The endpoint form: the signing secret and custom header values are write-only.

The stored secret and header values never reach the form (they are not form fields, so not its initial
data): the page shows them masked, and a stored value changes only when staff type a new one.
"""

from django import forms
from django.core.exceptions import ValidationError

from core.secrets import MASK, secret_mask
from webhooks import signing, validators
from webhooks.models import WebhookEndpoint


def headers_masked_text(headers: dict) -> str:
    """The custom headers as the form shows them: one `Name: ••••••ab12` line each."""
    return "\n".join(f"{name}: {secret_mask(value)}" for name, value in headers.items())


def headers_parse(text: str, current: dict) -> dict:
    """`Name: value` lines into headers. A line with the name alone, or with its masked value as shown,
    keeps the current value of that header; a missing line removes it. Errors name lines and headers,
    never values."""
    current_by_name = {name.lower(): value for name, value in current.items()}
    headers: dict[str, str] = {}
    errors: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, _, value = (part.strip() for part in line.partition(":"))
        error = _header_line_error(number, name, value, headers, current_by_name)
        if error:
            errors.append(error)
        else:
            kept = not value or MASK in value
            headers[name] = current_by_name[name.lower()] if kept else value
    if errors:
        raise ValidationError(errors)
    validators.headers_validate(headers)
    return headers


def _header_line_error(number: int, name: str, value: str, seen: dict, current_by_name: dict) -> str | None:
    if not validators.HEADER_NAME_RE.fullmatch(name):
        return f"Line {number}: write the header name, a colon, then its value (e.g. X-Api-Key: …)."
    if name.lower() in (seen_name.lower() for seen_name in seen):
        return f"Line {number}: {name} is listed twice."
    current = current_by_name.get(name.lower())
    if current is None and (not value or MASK in value):
        return f"Line {number}: {name} is a new header: type its value."
    if MASK in value and value != secret_mask(current):
        return f"Line {number}: type the new value of {name} in full, or leave its masked value as shown to keep it."
    return None


def status_codes_parse(text: str) -> list[int]:
    """`404, 409` (commas or spaces) into [404, 409]; the model checks the range and sorts."""
    words = [word for word in text.replace(",", " ").split() if word]
    bad = [word for word in words if not (word.isascii() and word.isdigit())]
    if bad:
        raise ValidationError(
            f"Not a status code: {', '.join(repr(word[:10]) for word in bad[:5])}. "
            "Write HTTP status codes separated by commas, e.g. 404, 409."
        )
    return [int(word) for word in words]


class StatusCodesField(forms.CharField):
    """A list of HTTP status codes, edited as one comma-separated line."""

    def prepare_value(self, value):
        return ", ".join(map(str, value)) if isinstance(value, list) else value

    def to_python(self, value) -> list[int]:
        return status_codes_parse(super().to_python(value))


class WebhookEndpointForm(forms.ModelForm):
    retry_on_status = StatusCodesField(
        required=False,
        label="Also retry on",
        help_text=(
            "HTTP statuses retried on the schedule besides 408, 425, 429 and 5xx, separated by commas, e.g. "
            "<code>404, 409</code> (n8n answers 404 while a workflow is inactive). 400 to 599; 410 Gone always "
            "deactivates the endpoint. They count towards the circuit breaker like a 5xx."
        ),
        widget=forms.TextInput(attrs={"size": 30, "placeholder": "404, 409"}),
    )
    new_secret = forms.CharField(
        required=False,
        label="New signing secret",
        help_text=(
            "Blank keeps the current secret. A secret typed here replaces the current one at once (the receiver "
            "must switch at the same moment); to keep the current one valid while the receiver moves, use "
            "<b>Rotate the signing secret</b> instead. Once saved it is shown masked."
        ),
        widget=forms.TextInput(
            attrs={
                "size": 60, "autocomplete": "off", "spellcheck": "false",
                # For the page's Generate button: the same shape as signing.secret_generate().
                "data-secret-prefix": signing.SECRET_PREFIX, "data-secret-bytes": signing.SECRET_NEW_BYTES,
            }
        ),
    )
    remove_secret = forms.BooleanField(required=False, label="Remove the secret (send unsigned from now on)")
    headers_text = forms.CharField(
        required=False,
        label="Custom headers",
        help_text=(
            "One header per line: <code>Name: value</code>. Values are never shown again: a line with the "
            "masked value as shown, or with the name alone, keeps the current value; type a new value to "
            "replace it; delete the line to remove the header."
        ),
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60, "autocomplete": "off", "spellcheck": "false"}),
    )

    class Meta:
        model = WebhookEndpoint
        # `secret` and `headers` are written through new_secret and headers_text, never shown.
        fields = [
            "name", "url", "is_active", "is_default", "delivery_mode", "fallback_on_415", "verify_tls",
            "timeout_seconds", "success_requires_json", "max_in_flight", "rate_limit_per_minute", "breaker_failures",
            "retry_on_status", "receives_alerts",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["headers_text"].initial = headers_masked_text(self.instance.headers or {})
        if not self.instance.pk:
            # New endpoints are signed unless staff clear the field; nothing is stored yet, so it is shown.
            secret = self.fields["new_secret"]
            secret.label, secret.initial = "Signing secret", signing.secret_generate()
            secret.help_text = "Empty: unsigned. Give it to the receiver: once saved it is shown masked."

    def clean_new_secret(self) -> str:
        secret = self.cleaned_data["new_secret"].strip()
        if secret:
            signing.secret_validate(secret)
        return secret

    def clean_headers_text(self) -> dict:
        return headers_parse(self.cleaned_data["headers_text"], self.instance.headers or {})

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("new_secret") and cleaned.get("remove_secret"):
            self.add_error("remove_secret", "Either type a new secret or remove the secret, not both.")
        elif cleaned.get("remove_secret"):
            self.instance.secret_replace("")
        elif cleaned.get("new_secret"):
            self.instance.secret_replace(cleaned["new_secret"])
        if "headers_text" in cleaned:
            self.instance.headers = cleaned["headers_text"]
        return cleaned
