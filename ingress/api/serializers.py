from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from core.addresses import sender_email_parse
from ingress.models import InboundEmail


def column_length(name: str) -> int:
    """The column's own limit, so a value the serializer accepts always fits (PostgreSQL enforces it)."""
    return InboundEmail._meta.get_field(name).max_length


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers, booleans, objects and lone surrogates instead of coercing them."""

    default_error_messages = {"surrogate": "Lone surrogate characters are not allowed."}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # DRF's validator calls ord() on every character (a 10 MB body is 10 million calls); the UTF-8
        # encoder finds the same surrogates in C.
        self.validators = [v for v in self.validators if not isinstance(v, ProhibitSurrogateCharactersValidator)]

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("surrogate")
        return super().to_internal_value(data)


def _shallow_copy(field: serializers.Field) -> serializers.Field:
    clone = object.__new__(type(field))
    clone.__dict__.update(field.__dict__)
    return clone


class GmailPushSerializer(serializers.Serializer):
    sender = StrictCharField(
        max_length=column_length("sender"),
        help_text=f"`Name <address>` or a bare address (that of {column_length('sender_email')} characters at most).",
    )
    body = StrictCharField(trim_whitespace=False, help_text="The e-mail body; the Apps Script sends HTML.")
    subject = StrictCharField(required=False, default="", allow_blank=True, trim_whitespace=False, max_length=5000)
    date = StrictCharField(
        required=False, default="", allow_blank=True, trim_whitespace=False, max_length=column_length("date")
    )
    message_id = StrictCharField(required=False, default="", allow_blank=True, max_length=column_length("message_id"))
    snippet = StrictCharField(required=False, allow_blank=True, trim_whitespace=False, help_text="Ignored.")

    REQUIRED = ("sender", "body")

    def get_fields(self):
        # DRF deep-copies declared fields per serializer, re-running every field's __init__: a fifth of a
        # push's CPU. These flat string fields hold no per-instance state besides what bind() sets on the
        # copy, so a shallow copy isolates them just as well; made directly, it is three times cheaper
        # than through copy.copy()'s reduce protocol.
        return {name: _shallow_copy(field) for name, field in self._declared_fields.items()}

    def validate_sender(self, value: str) -> str:
        limit = column_length("sender_email")
        # Only a longer value, or a non-ASCII one (NFKC may lengthen it), can make a longer address.
        if (len(value) > limit or not value.isascii()) and len(sender_email_parse(value)) > limit:
            raise serializers.ValidationError(f"The address is longer than {limit} characters.")
        return value

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


class DeliveryRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    endpoint = serializers.CharField(help_text="The endpoint's name.")


class GmailPushAnswerSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    status = serializers.CharField(required=False, help_text="200 only: processed, already_processed, skipped_…")
    message = serializers.CharField(required=False, help_text="Refusals only: why.")
    email_id = serializers.CharField(required=False)
    deliveries = DeliveryRefSerializer(many=True, required=False)
    deliver_after = serializers.DateTimeField(required=False, help_text="`deferred` only: when delivery starts.")
    max_bytes = serializers.IntegerField(required=False, help_text="413 only: the largest request body accepted.")


class GmailBatchItemAnswerSerializer(GmailPushAnswerSerializer):
    code = serializers.IntegerField(help_text="The HTTP status this e-mail would have had alone.")
    retry_after = serializers.IntegerField(required=False, help_text="429 only: seconds to wait (as `Retry-After`).")


class GmailBatchAnswerSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    results = GmailBatchItemAnswerSerializer(many=True, help_text="One answer per e-mail, in order.")


class GmailBatchSerializer(serializers.Serializer):
    """The batch body as documented; the view answers each item on its own, so one bad item fails alone."""

    emails = GmailPushSerializer(many=True, min_length=1, max_length=50, help_text="1 to 50 e-mails.")
