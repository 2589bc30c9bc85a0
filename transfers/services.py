"""File offload to the S3-compatible bucket (SPEC §8)."""

from django.conf import settings


def links_offload(links: list[dict]) -> list[dict]:
    """Links enriched with `r2_url`/`original_filename` where a copy exists; unchanged when R2 is off."""
    if not settings.R2_ENABLED:
        return links
    raise RuntimeError("R2 offload is enabled but not available in this build.")
