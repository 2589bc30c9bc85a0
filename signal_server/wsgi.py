import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signal_server.settings.base")
application = get_wsgi_application()

# Import every view now, then keep what the process loaded at start out of the cyclic collector's
# scans: a full collection walked those ~110,000 long-lived objects for about 60 ms, in the middle of
# a request, and never found any of them to free.
get_resolver().url_patterns  # noqa: B018
gc.freeze()
