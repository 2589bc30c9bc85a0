"""Settings, split the cookiecutter way.

- `base`: what `make run`, `manage.py`, wsgi and deployments use (DJANGO_SETTINGS_MODULE's default). Every
  environment variable is read there; production safety is the default, and `DJANGO_DEBUG=true` (set by
  `make run`) turns the development conveniences on.
- `test`: the suite's settings (pytest-django), on top of `base`.
"""
