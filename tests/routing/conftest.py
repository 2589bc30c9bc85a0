# The ingress fixtures (`push`, `default_endpoint`) serve the routing tests that push through the API.
from tests.ingress.conftest import default_endpoint, push  # noqa: F401
