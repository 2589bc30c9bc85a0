from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from core.addresses import address_list_parse, sender_email_parse
from core.headers import FORWARDED_HEADER_NAMES, FORWARDED_HEADERS
from ingress.models import InboundEmail

# Limits of the optional fields newer Apps Scripts send (SPEC §3.1); the script stays within them.
ADDRESS_LIST_MAX_CHARS = 20_000
ADDRESS_LIST_MAX_ADDRESSES = 500
HEADERS_MAX_NAMES = 50
HEADER_VALUE_MAX_CHARS = 10_000
ATTACHMENTS_MAX = 100
ATTACHMENT_NAME_MAX_CHARS = 1_000
ATTACHMENT_TYPE_MAX_CHARS = 255
ATTACHMENT_SIZE_MAX = 2**53 - 1  # the largest integer every JSON reader keeps exact
ADDRESS_FIELDS = ("to", "cc", "reply_to", "delivered_to")
EXTRA_FIELDS = (*ADDRESS_FIELDS, "headers", "attachments")
EXTRA_NAMES = frozenset(EXTRA_FIELDS)


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


def _text_check(value: object, what: str) -> str:
    """A string the database can store (no NUL, no lone surrogate), or a validation error naming `what`."""
    if not isinstance(value, str):
        raise serializers.ValidationError(f"{what} must be a string.")
    if "\x00" in value:
        raise serializers.ValidationError(f"{what} must not contain a NUL character.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise serializers.ValidationError(f"{what} must not contain lone surrogate characters.") from None
    return value


class ExtraField(serializers.Field):
    """An optional field of newer scripts: null is the same as absent, and it is never rendered back."""

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_null=True, **kwargs)

    def to_representation(self, value):
        return value


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "maxLength": ADDRESS_LIST_MAX_CHARS},
            {"type": "array", "items": {"type": "string"}, "maxItems": ADDRESS_LIST_MAX_ADDRESSES},
        ]
    }
)
class AddressListField(ExtraField):
    """A header value as Gmail gives it (`Name <a@b>, "Doe, J" <c@d>`), or a list of them: canonical addresses."""

    def to_internal_value(self, data):
        values = [data] if isinstance(data, str) else data
        if not isinstance(values, list) or len(values) > ADDRESS_LIST_MAX_ADDRESSES:
            raise serializers.ValidationError(
                f"Expected a string or a list of at most {ADDRESS_LIST_MAX_ADDRESSES} strings."
            )
        for value in values:
            _text_check(value, "Each address")
        if sum(map(len, values)) > ADDRESS_LIST_MAX_CHARS:
            raise serializers.ValidationError(f"At most {ADDRESS_LIST_MAX_CHARS} characters in all.")
        addresses = address_list_parse(values)
        if len(addresses) > ADDRESS_LIST_MAX_ADDRESSES:
            raise serializers.ValidationError(f"At most {ADDRESS_LIST_MAX_ADDRESSES} addresses.")
        limit = column_length("sender_email")
        if any(len(address) > limit for address in addresses):
            raise serializers.ValidationError(f"An address is longer than {limit} characters.")
        return addresses


@extend_schema_field(
    {
        "type": "object",
        "maxProperties": HEADERS_MAX_NAMES,
        "additionalProperties": {"type": "string", "maxLength": HEADER_VALUE_MAX_CHARS},
        "description": f"Header name -> value. Kept: {', '.join(FORWARDED_HEADERS)} (any case); others are dropped.",
    }
)
class HeadersField(ExtraField):
    """Allowlisted headers, lower-case name -> value; names off the allowlist are dropped, not refused, so a
    newer script may send more than this service keeps."""

    def to_internal_value(self, data):
        if not isinstance(data, dict) or len(data) > HEADERS_MAX_NAMES:
            raise serializers.ValidationError(f"Expected an object of at most {HEADERS_MAX_NAMES} headers.")
        headers = {}
        for name, value in data.items():
            if name.lower() not in FORWARDED_HEADER_NAMES:
                continue
            _text_check(value, f"The value of {name}")
            if len(value) > HEADER_VALUE_MAX_CHARS:
                raise serializers.ValidationError(
                    f"The value of {name} is longer than {HEADER_VALUE_MAX_CHARS} characters."
                )
            headers[name.lower()] = value
        return headers


@extend_schema_field(
    {
        "type": "array",
        "maxItems": ATTACHMENTS_MAX,
        "items": {
            "type": "object",
            "required": ["name", "size"],
            "properties": {
                "name": {"type": "string", "maxLength": ATTACHMENT_NAME_MAX_CHARS},
                "size": {"type": "integer", "minimum": 0, "maximum": ATTACHMENT_SIZE_MAX, "description": "Bytes."},
                "content_type": {"type": "string", "maxLength": ATTACHMENT_TYPE_MAX_CHARS},
            },
        },
    }
)
class AttachmentsField(ExtraField):
    """Attachment metadata (never content): a list of {name, size, content_type}."""

    def to_internal_value(self, data):
        if not isinstance(data, list) or len(data) > ATTACHMENTS_MAX:
            raise serializers.ValidationError(f"Expected a list of at most {ATTACHMENTS_MAX} attachments.")
        return [self._attachment(item, n) for n, item in enumerate(data, 1)]

    @staticmethod
    def _attachment(item: object, n: int) -> dict:
        if not isinstance(item, dict) or "name" not in item or "size" not in item:
            raise serializers.ValidationError(f"Attachment {n} must be an object with a name and a size.")
        name = _text_check(item["name"], f"Attachment {n}'s name")
        content_type = _text_check(item.get("content_type", ""), f"Attachment {n}'s content_type")
        size = item["size"]
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= ATTACHMENT_SIZE_MAX:
            raise serializers.ValidationError(f"Attachment {n}'s size must be a whole number of bytes.")
        if len(name) > ATTACHMENT_NAME_MAX_CHARS or len(content_type) > ATTACHMENT_TYPE_MAX_CHARS:
            raise serializers.ValidationError(
                f"Attachment {n}'s name is at most {ATTACHMENT_NAME_MAX_CHARS} characters, "
                f"its content_type at most {ATTACHMENT_TYPE_MAX_CHARS}."
            )
        return {"name": name, "size": size, "content_type": content_type}


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
    to = AddressListField(help_text="The To header as Gmail gives it (`Name <a@b>, …`), or a list of addresses.")
    cc = AddressListField(help_text="The Cc header, as `to`.")
    reply_to = AddressListField(help_text="The Reply-To header, as `to`.")
    delivered_to = AddressListField(help_text="The Delivered-To header, as `to`.")
    headers = HeadersField()
    attachments = AttachmentsField(help_text="Name, size and content type of each attachment; never its content.")

    REQUIRED = ("sender", "body")

    def get_fields(self):
        # DRF deep-copies declared fields per serializer, re-running every field's __init__: a fifth of a
        # push's CPU. These flat fields hold no per-instance state besides what bind() sets on the copy, so
        # a shallow copy isolates them just as well; made directly, it is three times cheaper than through
        # copy.copy()'s reduce protocol. The newer scripts' fields are bound only when sent: an older
        # script's push costs what it did.
        data = getattr(self, "initial_data", None)
        return {
            name: _shallow_copy(field)
            for name, field in self._declared_fields.items()
            if data is None or name not in EXTRA_NAMES or name in data
        }

    def push_extras(self) -> dict:
        """InboundPush's recipients, headers and attachments, for those a newer script sent (none: {})."""
        data = self.validated_data
        if EXTRA_NAMES.isdisjoint(data):
            return {}
        extras = {}
        recipients = {name: data.get(name) or [] for name in ADDRESS_FIELDS}
        if any(recipients.values()):
            extras["recipients"] = recipients
        if data.get("headers"):
            extras["headers"] = data["headers"]
        if data.get("attachments"):
            extras["attachments"] = tuple(data["attachments"])
        return extras

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
