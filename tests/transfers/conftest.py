"""Fixtures for the transfers tests: moto's S3 server on 127.0.0.1, a bucket, a local file server."""

import logging
import uuid
from dataclasses import dataclass

import boto3
import pytest
import requests
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
