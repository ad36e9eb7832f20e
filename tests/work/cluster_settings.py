"""Settings of the ``qcluster`` nodes the dead-node test starts (tests/work/test_dead_node.py).

The suite's settings, with tasks taken from the broker (not run in-process), one worker
per node, a queue of the test's own, and an email backend that can be told to hang.
"""

import os

from tests.settings import *  # noqa: F403

Q_CLUSTER = {
    **Q_CLUSTER,  # noqa: F405
    "sync": False,
    "workers": 1,
    "name": os.environ.get("PORTAL_TEST_Q_NAME", "portal-test"),
}
EMAIL_BACKEND = "tests.work.slow_mail.EmailBackend"
