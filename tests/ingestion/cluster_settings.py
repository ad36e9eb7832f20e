"""Settings of the ``qcluster`` node the receipt-watch test starts
(tests/ingestion/test_receipt_watch.py): the suite's, with tasks taken from the ORM
broker (not run in-process), one worker, and a queue of the test's own."""

import os

from tests.settings import *  # noqa: F403

Q_CLUSTER = {
    **{k: v for k, v in Q_CLUSTER.items() if k != "redis"},  # noqa: F405
    "orm": "default",
    "sync": False,
    "workers": 1,
    "name": os.environ.get("PORTAL_TEST_Q_NAME", "portal-test"),
}
