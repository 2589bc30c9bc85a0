"""The S3-compatible bucket (Cloudflare R2, or any S3 API): the process's boto3 clients, object URLs."""

import threading
from urllib.parse import quote

import boto3
from botocore.config import Config
from django.conf import settings

# Checks made while a delivery's lease runs (a retry's HEAD, SPEC §8) must end well within its slack.
QUICK_CONNECT_SECONDS = 1
QUICK_READ_SECONDS = 2

_clients: dict[bool, object] = {}
_client_lock = threading.Lock()


def s3_client(*, quick: bool = False):
    """The process-wide client, built on first use (boto3 clients are thread-safe once built).

    `quick` gives the client for checks made while a delivery waits: short timeouts and no retry, where
    transfers get the configured timeouts and standard retries.
    """
    client = _clients.get(quick)
    if client is None:
        with _client_lock:
            client = _clients.get(quick)
            if client is None:
                client = _clients[quick] = _client_build(quick)
    return client


def _client_build(quick: bool):
    retries = {"total_max_attempts": 1} if quick else {"max_attempts": 3}
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.R2_ENDPOINT_URL,
        region_name="auto",  # required by the SDK, ignored by R2
        aws_access_key_id=settings.R2_ACCESS_KEY_ID,
        aws_secret_access_key=settings.R2_SECRET_ACCESS_KEY,
        config=Config(
            signature_version="s3v4",
            retries={**retries, "mode": "standard"},
            connect_timeout=QUICK_CONNECT_SECONDS if quick else settings.R2_API_CONNECT_TIMEOUT_SECONDS,
            read_timeout=QUICK_READ_SECONDS if quick else settings.R2_API_READ_TIMEOUT_SECONDS,
            # Path-style works on R2, MinIO and AWS alike, and with an IP endpoint.
            s3={"addressing_style": "path"},
            # Not every S3-compatible store accepts the SDK's newer default checksum headers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def s3_client_reset(**kwargs) -> None:
    """Forget the clients so the next use reads the settings again (connected to `setting_changed`)."""
    if kwargs.get("setting", "R2_").startswith("R2_"):
        with _client_lock:
            _clients.clear()


def storage_configured() -> bool:
    return all(
        (settings.R2_ENDPOINT_URL, settings.R2_BUCKET, settings.R2_ACCESS_KEY_ID, settings.R2_SECRET_ACCESS_KEY)
    )


def object_url(key: str, *, max_seconds: int | None = None) -> str:
    """Where a receiver downloads the object: under the public base URL, else a presigned GET.

    `max_seconds` caps a presigned URL's lifetime (no point outliving the object).
    """
    if settings.R2_PUBLIC_BASE_URL:
        return f"{settings.R2_PUBLIC_BASE_URL.rstrip('/')}/{quote(key, safe='/')}"
    seconds = settings.R2_PRESIGN_SECONDS
    if max_seconds is not None:
        seconds = max(60, min(seconds, int(max_seconds)))
    return s3_client().generate_presigned_url(
        "get_object", Params={"Bucket": settings.R2_BUCKET, "Key": key}, ExpiresIn=seconds
    )
