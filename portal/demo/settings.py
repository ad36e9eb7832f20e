"""The demo's settings (``manage.py run_demo`` starts its processes with them): the
portal's own, with a quiet console unless ``PORTAL_DEMO_VERBOSE=1`` (run_demo
``--verbose``), and a worker that stops promptly on Ctrl-C."""

from portal.demo.console import VERBOSE_ENV, quiet_logging
from portal.env import env_bool
from portal.settings import *  # noqa: F403
from portal.settings import LOGGING, Q_CLUSTER

if not env_bool(VERBOSE_ENV, False):
    LOGGING = quiet_logging(LOGGING)

Q_CLUSTER = {
    **Q_CLUSTER,
    # The sentinel's checks every 0.1 s instead of 0.5: a stop is noticed at once.
    "guard_cycle": 0.1,
}
