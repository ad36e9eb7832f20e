"""The HL7 escape rules (``integrations.hl7.message``): what a person wrote is what the
receiver reads, whatever it contains."""

from hypothesis import given
from hypothesis import strategies as st

from integrations.hl7.message import ST_LIMIT, TEXT_LIMIT, check, escape, unescape


def test_each_delimiter_has_its_escape_sequence():
    assert escape("a|b^c~d\\e&f") == "a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f"
    assert escape("one\ntwo\r\nthree", line_breaks=True) == "one\\.br\\two\\.br\\three"
    assert escape("one\ntwo") == "one two"
    assert escape("bell\x07 nul\x00 tab\t") == "bell nul tab\t"
    # A sequence typed literally arrives literally.
    assert unescape(escape("\\F\\ \\.br\\ \\X41\\", line_breaks=True)) == "\\F\\ \\.br\\ \\X41\\"


def test_a_value_is_cut_at_its_limit_never_inside_an_escape_sequence():
    assert escape("a" * 300) == "a" * ST_LIMIT
    assert escape("a" * 197 + "|") == "a" * 197  # "\F\" would pass 199
    assert len(escape("|" * 100, limit=20)) == 18


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_text_round_trips(text):
    expected = "".join(
        ch
        for ch in text.replace("\r\n", "\n").replace("\r", "\n")
        if ch == "\n" or ch == "\t" or not (ord(ch) < 32 or ord(ch) == 127)
    )
    assert unescape(escape(text, line_breaks=True, limit=TEXT_LIMIT)) == expected
    escaped = escape(text, line_breaks=True, limit=TEXT_LIMIT)
    assert not set(escaped) & {"|", "^", "~", "&", "\r", "\n"}


def test_the_strict_check_holds_long_text_and_the_pdf_by_hand():
    head = (
        "MSH|^~\\&|A|B|C|D|20261201120000||ORU^R01^ORU_R01|X|P|2.5.1\r"
        "PID|1||M^^^^MR||x\rOBR|1|||x^y^L\r"
    )
    check(head + "OBX|1|FT|c^l^L||" + "a" * 5000 + "||||||F\r")
    check(head + "OBX|1|ED|c^l^L||^AP^PDF^Base64^" + "QUJD" * 30000 + "||||||F\r")
    for bad in (
        "OBX|1|FT|c^l^L||" + "a" * (TEXT_LIMIT + 1) + "||||||F\r",
        "OBX|1|ED|c^l^L||^AP^PDF^Base64^not base64!||||||F\r",
        "OBX|1|ST|c^l^L||" + "a" * 200 + "||||||F\r",
        "OBX|1|ST|c^l^L||a||||||F|||notadate\r",
    ):
        try:
            check(head + bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted: {bad[:40]}")
