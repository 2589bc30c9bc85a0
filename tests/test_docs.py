"""The README documents every environment variable the service reads, and `.env.example` is a subset of it."""

import re

from tests.service import ROOT

README = (ROOT / "README.md").read_text()
VARIABLES_SECTION = README.split("## Configuration: environment variables", 1)[1].split("\n## ", 1)[0]


def documented(name: str) -> bool:
    """Named in the README's table of environment variables."""
    return f"`{name}`" in VARIABLES_SECTION


def test_every_variable_settings_read_is_in_the_readme_table():
    settings_source = (ROOT / "signal_server" / "settings" / "base.py").read_text()
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]*)"', settings_source))
    assert read, "the pattern no longer finds the variables settings read"
    assert sorted(name for name in read if not documented(name)) == []


def test_every_variable_of_the_env_example_is_in_the_readme_table():
    example = (ROOT / ".env.example").read_text()
    names = re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.MULTILINE)
    assert "DJANGO_SECRET_KEY" in names and "PROCESS_API_TOKEN" in names
    assert sorted(name for name in names if not documented(name)) == []
