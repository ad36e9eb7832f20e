"""The storage fixtures (local files, and a bucket on a real S3 server) for these tests."""

from tests.storage.conftest import (  # noqa: F401 - fixtures, used by name
    local_storage,
    s3_bucket,
    s3_server,
    s3_storage,
    storage,
)
