"""Password login throttling (admin and API session login): too many failures lock the pair out for a while.

Counted per user name and per client address in the cache, so a guesser can neither hammer one account
nor spray many accounts from one address. A success clears the user's counter.
"""

import logging

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied

logger = logging.getLogger("signal_server.auth")


def _keys(username: str, address: str) -> tuple[str, str]:
    return f"login-fail:user:{(username or '').strip().lower()}", f"login-fail:addr:{address}"


def _client_address(request) -> str:
    return (request.META.get("REMOTE_ADDR") if request is not None else "") or "unknown"


def login_is_throttled(username: str, address: str) -> bool:
    limit = settings.LOGIN_THROTTLE_FAILURES
    user_key, addr_key = _keys(username, address)
    counts = cache.get_many([user_key, addr_key])
    return counts.get(user_key, 0) >= limit or counts.get(addr_key, 0) >= limit * 4


def login_failure_record(username: str, address: str) -> None:
    for key in _keys(username, address):
        cache.add(key, 0, timeout=settings.LOGIN_THROTTLE_SECONDS)
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=settings.LOGIN_THROTTLE_SECONDS)


def login_success_record(username: str) -> None:
    cache.delete(_keys(username, "")[0])


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        address = _client_address(request)
        if username is not None and login_is_throttled(username, address):
            logger.warning("AUTH: login throttled for a user from %s", address)
            raise PermissionDenied("Too many failed login attempts; try again later.")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if username is not None:
            if user is None:
                login_failure_record(username, address)
            else:
                login_success_record(username)
        return user
