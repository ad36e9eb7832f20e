"""Property-based hostile-input tests: every parser that takes outside input, fed by
Hypothesis, must answer 4xx or succeed, never 5xx, and leave nothing half-written.

Profiles (tests/conftest.py): ``ci`` under CI=true (bounded, so CI stays in time),
``dev`` locally, ``thorough`` for a long local run (HYPOTHESIS_PROFILE=thorough).
"""
