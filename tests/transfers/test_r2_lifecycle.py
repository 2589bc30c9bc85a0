"""manage.py r2_lifecycle: the bucket rule that expires copies (SPEC §8)."""

import pytest
from django.core.management import CommandError, call_command

from tests.service import free_port


def rules(bucket) -> list[dict]:
    return bucket.client.get_bucket_lifecycle_configuration(Bucket=bucket.name)["Rules"]


def run(*args) -> str:
    from io import StringIO

    out = StringIO()
    call_command("r2_lifecycle", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_default_rule_expires_every_object_after_one_day(bucket):
    output = run()
    [rule] = rules(bucket)
    assert rule["Expiration"] == {"Days": 1}
    assert rule["Status"] == "Enabled" and rule["Filter"] == {"Prefix": ""}
    assert '"Days": 1' in output and bucket.name in output


def test_unfinished_multipart_uploads_are_aborted_too(bucket):
    run()
    assert rules(bucket)[0]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}


def test_running_it_again_replaces_the_rule_instead_of_adding_one(bucket):
    run()
    run("--days", "3")
    [rule] = rules(bucket)
    assert rule["Expiration"] == {"Days": 3}


def test_other_rules_of_the_bucket_are_kept(bucket):
    foreign = {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 30}}
    bucket.client.put_bucket_lifecycle_configuration(Bucket=bucket.name, LifecycleConfiguration={"Rules": [foreign]})
    run()
    assert sorted(r["ID"] for r in rules(bucket)) == ["logs", "signal-server-expire-copies"]


def test_days_below_one_are_refused(bucket):
    with pytest.raises(CommandError, match="at least 1"):
        run("--days", "0")


def test_a_missing_configuration_is_a_clear_error(settings):
    settings.R2_ENDPOINT_URL = ""
    with pytest.raises(CommandError, match="R2_ENDPOINT_URL"):
        run()


def test_an_unreachable_store_is_a_clear_error(bucket, settings):
    settings.R2_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CommandError, match="Could not reach the bucket"):
        run()
