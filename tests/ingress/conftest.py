import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.factories import TOKEN, endpoint_create

PARIS = ZoneInfo("Europe/Paris")


@pytest.fixture
def default_endpoint(db):
    return endpoint_create(name="default", is_default=True)


@pytest.fixture
def push(client):
    """POST a JSON payload (or raw bytes) to the ingress with the test token."""

    def _push(payload, *, token=TOKEN, path="/api/ingress/gmail", headers=None, raw=None):
        extra = dict(headers or {})
        if token is not None:
            extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {token}")
        body = raw if raw is not None else json.dumps(payload)
        return client.post(path, data=body, content_type="application/json", **extra)

    return _push


@pytest.fixture
def frozen_now(monkeypatch):
    """Pin the clock: `frozen_now(2026, 4, 10, 10, 30)` is 10:30 in Paris on that day."""

    def _freeze(*parts):
        moment = datetime(*parts, tzinfo=PARIS)
        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return _freeze
