"""How pages show a secret they must not give away."""

MASK = "••••••"
# Shorter values are masked whole: their last 4 characters would give most of them away.
MASK_SHOWS_LAST_4_FROM = 12


def secret_mask(value: str) -> str:
    """`••••••ab12`: enough to tell two values apart, never enough to use one."""
    return MASK + value[-4:] if len(value) >= MASK_SHOWS_LAST_4_FROM else MASK
