"""DICOM files as they arrive from Clarius (research exports): any bytes, a valid file
mangled anywhere, or a ZIP holding either, give their main tags or a ``ValueError`` with
the reason (the export then fails visibly); never another exception, and every tag can
be stored in a PostgreSQL jsonb column."""

import io
import zipfile

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from integrations.clarius.research.service import dicom_tags
from portal.text import has_unstorable

pytestmark = pytest.mark.hostile


def valid_dicom() -> bytes:
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.PatientName = "Doe^Jane"
    dataset.PatientID = "MRN123"
    dataset.Modality = "US"
    dataset.StudyInstanceUID = "1.2.3"
    dataset.NumberOfFrames = 1
    out = io.BytesIO()
    dataset.save_as(out, enforce_file_format=True)
    return out.getvalue()


VALID = valid_dicom()


@st.composite
def mangled(draw):
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data) - 1))
        data[at : at + 4] = draw(st.binary(min_size=0, max_size=8))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


files = st.one_of(
    mangled(),
    st.binary(max_size=600).map(lambda tail: b"\x00" * 128 + b"DICM" + tail),
    st.binary(max_size=300),
)


def zipped(content: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("IMG0001.dcm", content)
    return out.getvalue()


@given(content=files, as_zip=st.booleans())
def test_any_dicom_file_gives_its_tags_or_a_reason(tmp_path_factory, content, as_zip):
    path = tmp_path_factory.mktemp("dicom") / "file"
    path.write_bytes(zipped(content) if as_zip else content)
    kind = "application/zip" if as_zip else "application/dicom"
    try:
        tags = dicom_tags(path, kind)
    except ValueError as e:
        assert str(e)
        return
    assert all(isinstance(v, str) and not has_unstorable(v) for v in tags.values())
