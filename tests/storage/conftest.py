"""Storage fixtures: one real S3-compatible server for the session, a fresh bucket per
test, and ``storage`` parametrised over local files and that bucket."""

import uuid

import pytest
from django.core.files.storage import storages

from tests import services


@pytest.fixture(scope="session")
def s3_server():
    server = services.s3()
    yield server
    server.stop()


def _reset_storages():
    # Django caches the backends it built; a test that changes STORAGES needs new ones.
    storages.__dict__.pop("backends", None)
    storages._backends = None
    storages._storages = {}


@pytest.fixture
def s3_bucket(s3_server):
    name = f"portal-{uuid.uuid4().hex[:12]}"
    client = s3_server.client()
    client.create_bucket(Bucket=name)
    yield name
    # Empty and drop the bucket: objects, then any upload left unfinished.
    for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
        client.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


def s3_storages(server, bucket, *, seconds=60):
    """The STORAGES setting that puts stored files in ``bucket`` (as PORTAL_STORAGE_URL
    would), built by the portal's own parser."""
    from django.conf import settings

    from portal.env import parse_storage_url

    options = parse_storage_url("PORTAL_STORAGE_URL", server.storage_url(bucket))
    options.update(
        access_key=server.access_key,
        secret_key=server.secret_key,
        querystring_expire=seconds,
        default_acl=None,
        file_overwrite=True,
    )
    return {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }


@pytest.fixture
def s3_storage(s3_server, s3_bucket, settings, tmp_path):
    """The portal's stored files in a fresh bucket on the real S3 server, for one test."""
    settings.STORAGES = s3_storages(s3_server, s3_bucket)
    settings.PORTAL_SCRATCH_DIR = str(tmp_path / "scratch")
    _reset_storages()
    yield s3_server.client(), s3_bucket
    _reset_storages()


@pytest.fixture
def local_storage(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT = settings.PORTAL_MEDIA_ROOT
    settings.PORTAL_SCRATCH_DIR = str(tmp_path / "scratch")
    _reset_storages()
    yield None
    _reset_storages()


@pytest.fixture(params=["local", "s3"])
def storage(request):
    """Each test that takes this runs twice: on local files and on the S3 server."""
    return request.getfixturevalue(f"{request.param}_storage")
