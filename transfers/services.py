"""File offload to the S3-compatible bucket (SPEC §8).

`links_offload` runs in the delivery worker before a delivery's payload is first built. Each provider
link is copied once into the bucket and recorded as a `LinkPair`; later deliveries (the same e-mail's
other endpoints, or another e-mail with the same link) reuse the copy. `links_refresh` makes the copied
links of a payload built earlier valid again for a retry or a replay. Workers coordinate through the
LinkPair row: its creator, or whoever swaps an expired/stale/failed row back to `pending`, owns the
transfer; the others wait for it, bounded by the owner's budget. Nothing here ever raises to the
caller: on any failure the link goes out as it came, and the error is recorded on the LinkPair.
"""

import hashlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit

from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as StorageConnectionError
from django.conf import settings
from django.utils import timezone

from transfers.download import DownloadError, download_budget, download_fetch, filename_for_key
from transfers.models import LinkPair
from transfers.storage import object_url, s3_client

logger = logging.getLogger("transfers")

# A failed source is not fetched again before this (a landing page stays a landing page; and both
# endpoints of one e-mail then get the same links).
FAILED_RETRY_AFTER = timedelta(minutes=10)
# A stored copy is handed out only while the receiver still has this long to fetch it.
REUSE_MIN_REMAINING = timedelta(hours=1)
# The keys a copy adds to a link.
COPY_KEYS = ("r2_url", "original_filename")
# How long past its download budget a `pending` claim stays live (the upload runs after the download).
CLAIM_UPLOAD_MARGIN_SECONDS = 120
WAIT_POLL_SECONDS = 0.5
PARALLEL_TRANSFERS = 4
LIFECYCLE_RULE_ID = "signal-server-expire-copies"
SOURCE_URL_MAX = 2000
ERROR_MAX = 500
# Multipart above 16 MB in 8 MB parts: at most a few parts in memory per upload.
TRANSFER_CONFIG = TransferConfig(
    multipart_threshold=16 * 1024 * 1024, multipart_chunksize=8 * 1024 * 1024, max_concurrency=4
)


@dataclass
class _Plan:
    link: dict
    action: str  # "keep" (leave the link), "use" (pair is stored), "transfer" (we own it), "wait"
    pair: LinkPair | None = None
    source_url: str = ""
    provider: str = ""


@dataclass
class TransferOutcome:
    object_key: str = ""
    size: int = 0
    content_type: str = ""
    filename: str = ""
    seconds: float = 0.0
    error: str = ""


def links_offload(links: list[dict]) -> list[dict]:
    """Links enriched with `r2_url` (and `original_filename` when known) where a copy exists in the bucket.

    Unchanged when R2 is off. Never raises: a link whose copy failed is returned as it came.
    """
    if not settings.R2_ENABLED or not links:
        return links
    try:
        plans = [_link_plan(link) for link in links]
        _transfers_run([plan for plan in plans if plan.action == "transfer"])
        for plan in plans:
            if plan.action == "wait":
                plan.pair, plan.action = _pair_wait(plan.pair, plan.source_url, plan.provider), "use"
        return [_link_enrich(plan) for plan in plans]
    except Exception:
        logger.exception("R2_TRANSFER: Offload failed; the links are sent unchanged")
        return links


def _link_plan(link: dict) -> _Plan:
    source = _link_source(link)
    if source is None:
        return _Plan(link, "keep")
    source_url, provider = source
    pair, created = LinkPair.objects.get_or_create(
        source_url=source_url, defaults={"provider": provider, "status": LinkPair.Status.PENDING}
    )
    plan = _Plan(link, "transfer", pair, source_url, provider)
    if created:
        return plan
    now = timezone.now()
    for _round in range(3):  # a lost claim race re-reads the row and decides again
        action = _pair_decide(plan, now)
        if action == "keep":
            return _Plan(link, "keep")
        if action == "transfer" and not _pair_claim(pair, now):
            pair.refresh_from_db()
            continue
        plan.action = action
        return plan
    return _Plan(link, "keep")


def _link_source(link: dict) -> tuple[str, str] | None:
    """(source URL, provider) of a link that can be copied; None otherwise."""
    source_url = link.get("direct_url") or link.get("raw_url")
    provider = link.get("provider")
    if not isinstance(source_url, str) or not source_url.strip() or not isinstance(provider, str) or not provider:
        return None
    source_url = source_url.strip()
    if len(source_url) > SOURCE_URL_MAX:
        logger.warning("R2_TRANSFER: %s link longer than %d characters not copied", provider, SOURCE_URL_MAX)
        return None
    return source_url, provider


def _pair_decide(plan: _Plan, now: datetime) -> str:
    """The action for an existing row: "use" or "wait" for it, "keep" the link, or "transfer" (claim it first)."""
    pair = plan.pair
    if pair.status == LinkPair.Status.STORED and pair.expires_at and pair.expires_at > now + REUSE_MIN_REMAINING:
        return "use" if _object_exists(pair) else "transfer"
    claim_lifetime = _claim_lifetime(plan.source_url, plan.provider)
    if pair.status == LinkPair.Status.PENDING and pair.updated_at > now - claim_lifetime:
        return "wait"
    if pair.status == LinkPair.Status.FAILED and pair.updated_at > now - FAILED_RETRY_AFTER:
        logger.info(
            "R2_TRANSFER: %s link failed at %s (%s); not retried yet, original link kept",
            plan.provider, pair.updated_at.isoformat(timespec="seconds"), pair.error,
        )
        return "keep"
    return "transfer"


def _pair_claim(pair: LinkPair, now: datetime) -> bool:
    """Swap the row back to `pending` if it is still as we read it; False when another worker changed it first."""
    claimed = LinkPair.objects.filter(pk=pair.pk, status=pair.status, updated_at=pair.updated_at).update(
        status=LinkPair.Status.PENDING, error="", updated_at=now
    )
    if claimed:
        pair.status, pair.error, pair.updated_at = LinkPair.Status.PENDING, "", now
    return bool(claimed)


def _claim_lifetime(source_url: str, provider: str) -> timedelta:
    return timedelta(seconds=download_budget(source_url, provider) + CLAIM_UPLOAD_MARGIN_SECONDS)


def _object_exists(pair: LinkPair) -> bool:
    """False only when the bucket says the object is gone (deleted early); an unreachable bucket is trusted."""
    present = _object_present(pair.object_key)
    if present is False:
        logger.info("R2_TRANSFER: Stored copy %s is gone from the bucket; copying again", pair.object_key)
    return present is not False


def _object_present(key: str, *, quick: bool = False) -> bool | None:
    """Whether the bucket holds the object; None when it could not tell (unreachable, or another error)."""
    try:
        s3_client(quick=quick).head_object(Bucket=settings.R2_BUCKET, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        logger.warning("R2_TRANSFER: Could not check %s (%s); trusting it", key, _storage_error(exc))
        return None
    except BotoCoreError as exc:
        logger.warning("R2_TRANSFER: Could not check %s (%s); trusting it", key, _storage_error(exc))
        return None
    return True


def _transfers_run(plans: list[_Plan]) -> None:
    """Copy the claimed sources, in parallel (an e-mail's links then cost the slowest one, not their sum)."""
    if not plans:
        return
    with ThreadPoolExecutor(max_workers=min(PARALLEL_TRANSFERS, len(plans)), thread_name_prefix="r2") as pool:
        outcomes = list(pool.map(lambda plan: transfer_run(plan.source_url, plan.provider), plans))
    for plan, outcome in zip(plans, outcomes, strict=True):
        plan.pair = _pair_record(plan.pair, outcome)
        plan.action = "use"


def transfer_run(source_url: str, provider: str) -> TransferOutcome:
    """Download one source and upload it to the bucket. Touches no database (it runs in a thread)."""
    started = time.monotonic()
    host = (urlsplit(source_url).hostname or "").lower()
    try:
        download = download_fetch(source_url, provider)
    except DownloadError as exc:
        return TransferOutcome(error=str(exc), seconds=time.monotonic() - started)
    except Exception as exc:
        logger.exception("R2_TRANSFER: Unexpected error downloading a %s link from %s", provider, host)
        return TransferOutcome(error=f"unexpected download error ({type(exc).__name__})")
    with download.file:
        key = object_key_build(provider, source_url, filename_for_key(download.filename, download.content_type))
        try:
            s3_client().upload_fileobj(
                download.file,
                settings.R2_BUCKET,
                key,
                ExtraArgs={
                    "ContentType": download.content_type,
                    "ContentDisposition": content_disposition(download.filename or key.rsplit("/", 1)[-1]),
                    "Metadata": {"original-filename": quote(download.filename), "provider": provider},
                },
                Config=TRANSFER_CONFIG,
            )
        except (BotoCoreError, ClientError, Boto3Error) as exc:
            return TransferOutcome(error=f"upload to the bucket failed ({_storage_error(exc)})")
        except Exception as exc:
            logger.exception("R2_TRANSFER: Unexpected error uploading %s", key)
            return TransferOutcome(error=f"unexpected upload error ({type(exc).__name__})")
    return TransferOutcome(
        object_key=key,
        size=download.size,
        content_type=download.content_type,
        filename=download.filename,
        seconds=time.monotonic() - started,
    )


def _pair_record(pair: LinkPair, outcome: TransferOutcome) -> LinkPair:
    """Write the outcome on our claimed row (unless another worker took the claim over meanwhile)."""
    claimed_at = pair.updated_at
    now = timezone.now()
    if outcome.error:
        pair.status, pair.error, pair.r2_url = LinkPair.Status.FAILED, outcome.error[:ERROR_MAX], ""
        logger.warning(
            "R2_TRANSFER: Transfer of a %s link from %s failed: %s; the original link is kept",
            pair.provider, urlsplit(pair.source_url).hostname, outcome.error,
        )
    else:
        pair.status, pair.error = LinkPair.Status.STORED, ""
        pair.object_key, pair.size = outcome.object_key, outcome.size
        pair.content_type, pair.original_filename = outcome.content_type[:200], outcome.filename[:500]
        pair.expires_at = now + timedelta(days=settings.R2_LINK_TTL_DAYS)
        pair.r2_url = object_url(outcome.object_key)[:2000]
        logger.info(
            "R2_TRANSFER: Successfully transferred %s link to R2 as %s (%d bytes in %.1f s)",
            pair.provider, outcome.object_key, outcome.size, outcome.seconds,
        )
    pair.updated_at = now
    fields = ["status", "error", "object_key", "size", "content_type", "original_filename", "expires_at", "r2_url"]
    LinkPair.objects.filter(pk=pair.pk, status=LinkPair.Status.PENDING, updated_at=claimed_at).update(
        updated_at=now, **{name: getattr(pair, name) for name in fields}
    )
    return pair


def _pair_wait(pair: LinkPair, source_url: str, provider: str) -> LinkPair:
    """Wait for another worker's transfer of the same source, no longer than its claim stays live."""
    deadline = pair.updated_at + _claim_lifetime(source_url, provider)
    polls = int(_claim_lifetime(source_url, provider).total_seconds() / WAIT_POLL_SECONDS) + 1
    for _poll in range(polls):
        if timezone.now() >= deadline:
            break
        time.sleep(WAIT_POLL_SECONDS)
        pair.refresh_from_db()
        if pair.status != LinkPair.Status.PENDING:
            return pair
    logger.warning("R2_TRANSFER: Another worker's copy of a %s link is not ready; original link kept", provider)
    return pair


def _link_enrich(plan: _Plan) -> dict:
    pair = plan.pair
    if plan.action != "use" or pair is None or pair.status != LinkPair.Status.STORED or not pair.object_key:
        return plan.link
    return _link_with_copy(plan.link, pair, timezone.now())


def _link_with_copy(link: dict, pair: LinkPair, now: datetime) -> dict:
    """The link with its copy's URL (a presigned one lives no longer than the copy) and the provider's file name."""
    remaining = (pair.expires_at - now).total_seconds() if pair.expires_at else None
    enriched = {**_link_without_copy(link), "r2_url": object_url(pair.object_key, max_seconds=remaining)}
    if pair.original_filename:
        enriched["original_filename"] = pair.original_filename
    return enriched


def _link_without_copy(link: dict) -> dict:
    return {key: value for key, value in link.items() if key not in COPY_KEYS}


# --- the copies of a payload built earlier (retries and replays) ---------------------------------------------
def links_refresh(links: list[dict]) -> list[dict]:
    """The links of a payload built at an earlier attempt, each `r2_url` valid now.

    A copy still live (stored, more than REUSE_MIN_REMAINING left, not missing from the bucket) gets its
    URL again: presigned afresh for at most its remaining life, or the same public URL. A copy that has
    expired or is gone, or any failure here, drops `r2_url` and `original_filename`: the link goes out as
    if it had never been copied, with its provider URLs. Nothing is downloaded (a retry's lease covers its
    HTTP try only), and nothing raises. With R2 off, the copies are dropped too.
    """
    if not any(_link_copied(link) for link in links):
        return links
    if not settings.R2_ENABLED:
        return _links_without_copies(links)
    try:
        now = timezone.now()
        live = _pairs_live([source[0] for link in links if _link_copied(link) and (source := _link_source(link))], now)
        return [_link_refreshed(link, live, now) if _link_copied(link) else link for link in links]
    except Exception:
        logger.exception("R2_TRANSFER: Could not renew the copies' URLs; the original links are sent")
        return _links_without_copies(links)


def _link_copied(link) -> bool:
    return isinstance(link, dict) and "r2_url" in link


def _links_without_copies(links: list[dict]) -> list[dict]:
    return [_link_without_copy(link) if _link_copied(link) else link for link in links]


def _pairs_live(source_urls: list[str], now: datetime) -> dict[str, LinkPair]:
    """The stored copies of these sources that receivers may still be given (one query, then a HEAD each)."""
    pairs = LinkPair.objects.filter(
        source_url__in=source_urls, status=LinkPair.Status.STORED, expires_at__gt=now + REUSE_MIN_REMAINING
    ).exclude(object_key="")
    live = {}
    reachable = True
    for pair in pairs:
        # Once the bucket cannot answer, the other copies are trusted unchecked: an unreachable bucket costs
        # the attempt one quick timeout, not one per link.
        present = _object_present(pair.object_key, quick=True) if reachable else None
        reachable = present is not None
        if present is not False:
            live[pair.source_url] = pair
    return live


def _link_refreshed(link: dict, live: dict[str, LinkPair], now: datetime) -> dict:
    source = _link_source(link)
    pair = live.get(source[0]) if source else None
    if pair is None:
        logger.info(
            "R2_TRANSFER: The copy of a %s link has expired or is gone; the original link is sent", link.get("provider")
        )
        return _link_without_copy(link)
    return _link_with_copy(link, pair, now)


def object_key_build(provider: str, source_url: str, filename: str) -> str:
    """`<provider>/<sha256[:8]>/<sha256[8:16]>/<filename>`, the hash taken over the canonical source URL.

    The URL (not the content) is hashed so the key is known before the download and stays stable:
    one source always lands under the same prefix, whichever worker copies it.
    """
    digest = hashlib.sha256(source_url.encode("utf-8")).hexdigest()
    return f"{provider}/{digest[:8]}/{digest[8:16]}/{filename}"


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename) or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _storage_error(exc: Exception) -> str:
    """A short description of a bucket error: the S3 error code, or the kind of connection failure."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip(": ")[:200]
    if isinstance(exc, (StorageConnectionError, HTTPClientError)):
        return f"bucket endpoint unreachable, {type(exc).__name__}"
    return type(exc).__name__


def bucket_lifecycle_apply(days: int) -> dict:
    """Set (idempotently) the bucket rule that expires every object after `days` days; the rule is returned.

    Other rules of the bucket are kept. Unfinished multipart uploads are aborted after one day.
    """
    client = s3_client()
    try:
        rules = client.get_bucket_lifecycle_configuration(Bucket=settings.R2_BUCKET).get("Rules", [])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchLifecycleConfiguration":
            raise
        rules = []
    rule = {
        "ID": LIFECYCLE_RULE_ID,
        "Filter": {"Prefix": ""},
        "Status": "Enabled",
        "Expiration": {"Days": days},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
    }
    rules = [r for r in rules if r.get("ID") != LIFECYCLE_RULE_ID] + [rule]
    client.put_bucket_lifecycle_configuration(Bucket=settings.R2_BUCKET, LifecycleConfiguration={"Rules": rules})
    return rule

