"""``python -m bot`` freezes what start-up made (``bot.__main__.freeze_startup``): the
garbage collector's full collections walk only what came later, so they no longer stall
every request in flight (75-105 ms a collection, measured by ``bench/api_bench.py``)."""

from __future__ import annotations

import gc

from bot.__main__ import freeze_startup


def test_what_start_up_made_is_left_out_of_full_collections() -> None:
    gc.unfreeze()
    freeze_startup()
    try:
        frozen = gc.get_freeze_count()  # the modules, the test run's objects
        assert frozen > 10_000
        assert len(gc.get_objects(generation=2)) < frozen / 10  # what a full one walks
    finally:
        gc.unfreeze()  # the other tests' objects stay the collector's
