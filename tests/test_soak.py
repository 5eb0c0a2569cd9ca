"""The station through a day of faults (tests/soak.py): every occurrence recorded once, as it went."""

import pytest
from soak import FAULTS, Soak


@pytest.mark.real
def test_a_day_of_faults_loses_no_record_and_plays_nothing_twice(tmp_path):
    result = Soak(tmp_path, days=1).run()
    assert result.occurrences > 200 and set(result.faults) == set(FAULTS)
    assert result.lost == [] and result.doubled == [] and result.unended == []
    assert result.wrong == []
    assert result.plays == result.recorded_plays
