#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "signal_server.settings.base")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018  (loads the settings now: a missing variable is one line, not a traceback)
    except ImproperlyConfigured as exc:
        sys.exit(f"Signal Server is not configured: {exc}")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
