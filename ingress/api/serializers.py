from rest_framework import serializers


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers, booleans and objects instead of coercing them."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class GmailPushSerializer(serializers.Serializer):
    sender = StrictCharField(max_length=2000, help_text="`Name <address>` or a bare address.")
    body = StrictCharField(trim_whitespace=False, help_text="The e-mail body; the Apps Script sends HTML.")
    subject = StrictCharField(required=False, default="", allow_blank=True, trim_whitespace=False, max_length=5000)
    date = StrictCharField(required=False, default="", allow_blank=True, trim_whitespace=False, max_length=100)
    message_id = StrictCharField(required=False, default="", allow_blank=True, max_length=500)
    snippet = StrictCharField(required=False, allow_blank=True, trim_whitespace=False, help_text="Ignored.")

    REQUIRED = ("sender", "body")

    def first_error_message(self) -> str:
        """The legacy single-message form of the first failing field, in field order."""
        for name in self.fields:
            codes = [getattr(e, "code", "") for e in self.errors.get(name, [])]
            if not codes:
                continue
            if name in self.REQUIRED and set(codes) & {"required", "blank", "null"}:
                return f"Missing field: {name}"
            return f"Invalid field: {name} ({self.errors[name][0]})"
        return "Invalid payload"


class GmailPushAnswerSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    status = serializers.CharField(required=False)
    message = serializers.CharField(required=False)
    email_id = serializers.CharField(required=False)
    deliveries = serializers.ListField(child=serializers.DictField(), required=False)
    deliver_after = serializers.DateTimeField(required=False)


class GmailBatchSerializer(serializers.Serializer):
    emails = serializers.ListField(child=serializers.JSONField(), min_length=1, max_length=50)
