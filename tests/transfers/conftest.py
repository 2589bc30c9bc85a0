"""Fixtures for the transfers tests: moto's S3 server on 127.0.0.1, a bucket, a local file server."""

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import boto3
import pytest
import requests
import time_machine
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.utils import timezone
from moto.server import ThreadedMotoServer

from tests.service import free_port
from tests.transfers.fileserver import FileServer

CREDENTIALS = {"aws_access_key_id": "test-access-key", "aws_secret_access_key": "test-secret-key"}


@pytest.fixture(scope="session")
def moto_url():
    """moto's S3 API as a real HTTP server (the S3-compatible store), for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@dataclass
class Bucket:
    endpoint: str
    name: str
    client: object

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def head(self, key: str) -> dict:
        return self.client.head_object(Bucket=self.name, Key=key)

    def keys(self) -> list[str]:
        return [o["Key"] for o in self.client.list_objects_v2(Bucket=self.name).get("Contents", [])]


def bucket_create(endpoint: str) -> Bucket:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **CREDENTIALS)
    name = f"signal-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    return Bucket(endpoint, name, client)


@pytest.fixture
def bucket(moto_url, settings):
    """A fresh bucket, with R2 enabled and pointed at it (presigned URLs)."""
    created = bucket_create(moto_url)
    settings.R2_ENABLED = True
    settings.R2_ENDPOINT_URL = moto_url
    settings.R2_BUCKET = created.name
    settings.R2_ACCESS_KEY_ID = CREDENTIALS["aws_access_key_id"]
    settings.R2_SECRET_ACCESS_KEY = CREDENTIALS["aws_secret_access_key"]
    settings.R2_PUBLIC_BASE_URL = ""
    return created


@pytest.fixture
def files():
    """A provider stand-in on http://127.0.0.1 (allowed by TRANSFERS_EXTRA_ALLOWED_HOSTS in test settings)."""
    server = FileServer().start()
    yield server
    server.stop()


def fetch(url: str) -> requests.Response:
    return requests.get(url, timeout=10)


@pytest.fixture
def clock():
    """Every clock of the process (Django's, boto's signing, moto's) moved forward at will; time still runs.

    `clock.shift(timedelta(hours=2))` is two hours later for the service and the bucket alike.
    """
    with time_machine.travel(timezone.now(), tick=True) as traveller:
        yield traveller


def presigned_window(url: str) -> tuple[datetime, datetime]:
    """When a presigned GET starts and stops being valid, after checking its SigV4 signature against the
    test credentials as S3 does (moto itself checks neither the signature nor the expiry)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    unsigned = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "X-Amz-Signature"])))
    key_id, _day, region, service, _ = params["X-Amz-Credential"].split("/")
    assert key_id == CREDENTIALS["aws_access_key_id"]
    auth = S3SigV4QueryAuth(
        Credentials(key_id, CREDENTIALS["aws_secret_access_key"]), service, region, expires=int(params["X-Amz-Expires"])
    )
    request = AWSRequest(method="GET", url=unsigned)
    request.context["timestamp"] = params["X-Amz-Date"]
    signature = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    assert signature == params["X-Amz-Signature"], "the presigned URL's signature does not verify"
    signed_at = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return signed_at, signed_at + timedelta(seconds=int(params["X-Amz-Expires"]))
