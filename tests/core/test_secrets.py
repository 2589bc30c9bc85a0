from core.secrets import secret_mask


def test_a_value_of_12_characters_or_more_shows_only_its_last_4():
    assert secret_mask("erp-key-0123456789abcd") == "••••••abcd"


def test_a_shorter_value_is_masked_whole():
    assert secret_mask("pin-42") == "••••••"
