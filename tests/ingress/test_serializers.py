from ingress.api.serializers import EXTRA_FIELDS, GmailPushSerializer

EVERY_FIELD = dict.fromkeys(GmailPushSerializer._declared_fields, "")


def test_each_serializer_binds_its_own_copies_of_the_declared_fields():
    first, second = GmailPushSerializer(data=EVERY_FIELD), GmailPushSerializer(data=EVERY_FIELD)

    for name, declared in GmailPushSerializer._declared_fields.items():
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first and second.fields[name].parent is second
        assert type(first.fields[name]) is type(declared)
        assert declared.parent is None  # binding a copy leaves the class's field untouched


def test_field_copies_keep_their_options():
    fields = GmailPushSerializer(data={}).fields

    assert fields["sender"].max_length == 500
    assert fields["body"].trim_whitespace is False
    assert fields["subject"].required is False and fields["subject"].default == ""


def test_a_push_without_the_newer_fields_binds_none_of_them():
    fields = GmailPushSerializer(data={"sender": "a@b.fr", "body": "x", "to": "c@d.fr"}).fields

    assert [name for name in EXTRA_FIELDS if name in fields] == ["to"]
    assert {"sender", "body", "subject", "date", "message_id", "snippet"} <= set(fields)


def test_a_serializer_without_data_describes_every_field():
    assert set(GmailPushSerializer().fields) == set(GmailPushSerializer._declared_fields)
