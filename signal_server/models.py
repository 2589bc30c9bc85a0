from rest_framework.authtoken.models import TokenProxy

from core.secrets import secret_mask


class ApiToken(TokenProxy):
    """A REST API token as admin names it everywhere (titles, messages, history): its user and the key's
    last 4 characters. DRF's own names a token by its key, which let anyone who could view the token
    pages act as any user."""

    class Meta:
        proxy = True
        verbose_name = "API token"
        verbose_name_plural = "API tokens"

    def __str__(self):
        return f"{self.user} ({secret_mask(self.key)})"
