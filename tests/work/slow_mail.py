"""An email backend that hangs while sending when ``SLOW_MAIL_MARKER`` names a file.

It writes the marker first (so a test knows the task is under way), then sleeps: the
node sending it can be killed mid-task. Without the variable it sends nothing, at once.
"""

import os
import time
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend


class EmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        marker = os.environ.get("SLOW_MAIL_MARKER")
        if marker:
            Path(marker).write_text(str(os.getpid()))
            time.sleep(float(os.environ.get("SLOW_MAIL_SECONDS", "120")))
        return len(email_messages)
