"""A faithful Clarius Cloud simulator for the demo, development and the test suite.

See ``README.md`` beside this file. ``Sandbox`` is the entry point::

    from clarius_sandbox import Sandbox

    with Sandbox() as sandbox:
        user = sandbox.add_user("Dr. Jane Doe")
        sandbox.upload_exam(user)
"""

from .server import Sandbox
from .state import SandboxRequest, SandboxState, SandboxUser

__all__ = ["Sandbox", "SandboxRequest", "SandboxState", "SandboxUser"]
