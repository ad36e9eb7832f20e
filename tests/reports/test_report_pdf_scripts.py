"""Names in any script are drawn in the report: the text is there, the font embedded for it
has every character (no empty box for a missing glyph), and the page shows ink where it is."""

import io
import unicodedata

import pypdfium2
import pytest
from fontTools.ttLib import TTFont

from portal.exams.models import Patient
from tests.reports.pdf_helpers import draw, signed

NAMES = {
    "chinese": "王小明",
    "arabic": "محمد عبد الله",
    "devanagari": "देवनागरी नाम",
    "emoji": "Smiley 😀",
}


def embedded_characters(reader) -> set[str]:
    """Every character some font embedded in the PDF can draw (its subset's cmap)."""
    covered = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            described = (
                font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            )
            descriptor = described["/FontDescriptor"].get_object()
            for key in ("/FontFile2", "/FontFile3", "/FontFile"):
                if key in descriptor:
                    program = TTFont(io.BytesIO(descriptor[key].get_object().get_data()))
                    covered |= {chr(code) for code in (program.getBestCmap() or {})}
                    covered |= glyph_characters(program.getGlyphOrder())
    # Arabic letters are drawn in their joined forms: presentation forms, or glyphs the
    # shaper picks by name ("uni0645.init"); either stands for the letter.
    return covered | {unicodedata.normalize("NFKC", c) for c in covered}


def glyph_characters(names) -> set[str]:
    found = set()
    for name in names:
        base = name.split(".", 1)[0]
        if base.startswith("uni") and len(base) >= 7:
            try:
                found.add(chr(int(base[3:7], 16)))
            except ValueError:
                continue
    return found


def letters(text):
    """The characters that must be drawn: no spaces, no combining-only marks compared."""
    return {c for c in text if not c.isspace()}


def ink_at(path, needle: str) -> int:
    """Dark pixels in the boxes of ``needle``'s characters on the first page."""
    document = pypdfium2.PdfDocument(path)
    page = document[0]
    text = page.get_textpage()
    everything = text.get_text_range()
    scale = 3
    bitmap = page.render(scale=scale, grayscale=True).to_pil()
    height = page.get_height()
    dark = 0
    found = 0
    for index, character in enumerate(everything):
        if character not in needle or character.isspace():
            continue
        found += 1
        left, bottom, right, top = text.get_charbox(index)
        box = (
            int(left * scale),
            int((height - top) * scale),
            int(right * scale) + 1,
            int((height - bottom) * scale) + 1,
        )
        dark += sum(bitmap.crop(box).point(lambda value: value < 128 and 255).histogram()[255:])
    assert found, f"none of {needle!r} found on the page by pdfium"
    return dark


@pytest.mark.parametrize("script", sorted(NAMES))
def test_a_name_in_any_script_is_drawn(script, exams, users, tmp_path):
    name = NAMES[script]
    exam = exams["north"]
    Patient.objects.filter(exam=exam).update(first_name=name, last_name="")
    bob = users["bob"]
    bob.full_name = name
    bob.save()
    signed(exam, bob, impression=f"Reviewed with {name} present.")
    path = tmp_path / "report.pdf"
    reader, text = draw(exam, path)

    # pypdf's text has each character (Arabic may come out in visual order).
    assert letters(name) <= set(text), (script, text[:300])
    # Every character is in a font the PDF embeds: none is left to the missing glyph.
    missing = {c for c in letters(name) if c not in embedded_characters(reader)}
    assert not missing, {c: unicodedata.name(c, "?") for c in missing}
    # And the page has ink where the name is.
    assert ink_at(path, name) > 20


def test_the_fonts_for_each_script_are_embedded(exams, users, tmp_path):
    exam = exams["north"]
    Patient.objects.filter(exam=exam).update(first_name=" ".join(NAMES.values()), last_name="")
    signed(exam, users["bob"])
    reader, _ = draw(exam, tmp_path / "report.pdf")
    fonts = {
        str(font.get_object()["/BaseFont"]).split("+", 1)[-1]
        for font in reader.pages[0]["/Resources"]["/Font"].values()
    }
    assert len(fonts) >= 4, fonts  # Latin and Arabic, CJK, Devanagari, emoji
    covered = embedded_characters(reader)
    assert letters("".join(NAMES.values())) <= covered


def test_an_arabic_name_keeps_the_line_around_it_in_order(exams, users, tmp_path):
    exam = exams["north"]
    bob = users["bob"]
    bob.full_name, bob.credentials = NAMES["arabic"], "MD, RDMS"
    bob.save()
    signed(exam, bob)
    _, text = draw(exam, tmp_path / "report.pdf")
    line = next(line for line in text.splitlines() if "Signed by" in line)
    # The name is isolated: "Signed by" stays first and the date last, whatever the name.
    assert line.startswith("Signed by") and line.rstrip().endswith("UTC")
    assert "MD, RDMS" in line
