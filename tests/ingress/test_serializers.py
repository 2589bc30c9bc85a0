from ingress.api.serializers import GmailPushSerializer


def test_each_serializer_binds_its_own_copies_of_the_declared_fields():
    first, second = GmailPushSerializer(data={}), GmailPushSerializer(data={})

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
