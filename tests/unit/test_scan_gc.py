"""scan_gc.fewer_collections: the youngest generation's threshold while scans run, and back after the last."""
import gc

import pytest

from intercom_fdw.scan_gc import SCAN_THRESHOLD, fewer_collections


@pytest.fixture(autouse=True)
def defaults():
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_overlapping_scans_restore_after_the_last():
    first, second = fewer_collections(), fewer_collections()
    first.__enter__()
    assert gc.get_threshold() == (SCAN_THRESHOLD, 10, 10)
    second.__enter__()
    first.__exit__(None, None, None)
    assert gc.get_threshold() == (SCAN_THRESHOLD, 10, 10)
    second.__exit__(None, None, None)
    assert gc.get_threshold() == (700, 10, 10)


def test_a_failing_scan_restores():
    with pytest.raises(ValueError):
        with fewer_collections():
            raise ValueError
    assert gc.get_threshold() == (700, 10, 10)


def test_a_higher_threshold_is_never_lowered():
    gc.set_threshold(50_000, 5, 5)
    with fewer_collections():
        assert gc.get_threshold() == (50_000, 5, 5)
    assert gc.get_threshold() == (50_000, 5, 5)


def test_thresholds_set_meanwhile_by_other_code_stay():
    with fewer_collections():
        gc.set_threshold(2_000, 10, 10)
    assert gc.get_threshold() == (2_000, 10, 10)
