"""Percentiles by nearest rank, computed by the database per group or in Python."""

import pytest
from django.db.models import F

from core.distributions import nearest_rank_percentiles, percentiles_by_group
from tests.factories import endpoint_create
from tests.history_factories import delivery_create, ok_attempt
from webhooks.models import DeliveryAttempt

pytestmark = pytest.mark.django_db


def durations_by_endpoint():
    return percentiles_by_group(
        DeliveryAttempt.objects.all(), group=F("delivery__endpoint_id"), value="duration_ms", percents=(50, 95)
    )


def test_each_group_gets_its_nearest_rank_percentiles():
    fast, slow = endpoint_create(), endpoint_create()
    delivery_create(None, fast, attempts=[ok_attempt(duration_ms=ms) for ms in range(10, 210, 10)])  # 20 values
    delivery_create(None, slow, attempts=[ok_attempt(duration_ms=ms) for ms in (900, 100, 500)])
    found = durations_by_endpoint()
    # 20 values: the 10th and the 19th smallest; 3 values: the 2nd and the 3rd.
    assert found == {fast.pk: {50: 100, 95: 190}, slow.pk: {50: 500, 95: 900}}


def test_a_group_of_one_row_has_that_value_as_every_percentile():
    endpoint = endpoint_create()
    delivery_create(None, endpoint, attempts=[ok_attempt(duration_ms=42)])
    assert durations_by_endpoint() == {endpoint.pk: {50: 42, 95: 42}}


def test_no_rows_no_groups():
    assert durations_by_endpoint() == {}


def test_ranks_worked_out_in_python_are_the_database_ones():
    assert nearest_rank_percentiles(list(range(200, 0, -10))) == {50: 100, 95: 190}
    assert nearest_rank_percentiles([42]) == {50: 42, 95: 42}
    assert nearest_rank_percentiles([]) == {}
