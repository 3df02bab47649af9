from __future__ import annotations

import io
import zlib

import docx
import pytest

from assistantd.file_search.parsing import (
    InvalidFileError,
    UnsupportedFileError,
    is_supported,
    parse_file,
)

JAPANESE = "東京都は日本の首都です。富士山は日本で最も高い山です。"


def _pdf(lines: list[str]) -> bytes:
    """A minimal one-page PDF showing `lines` in Helvetica (ASCII only), built by hand."""
    ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"]
    for line in lines:
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        ops.append(f"({escaped}) Tj T*")
    ops.append("ET")
    stream = zlib.compress("\n".join(ops).encode())
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _docx() -> bytes:
    document = docx.Document()
    document.add_heading("Quarterly report", level=1)
    document.add_paragraph("Revenue grew by 12 percent.")
    document.add_paragraph(JAPANESE)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Region"
    table.rows[0].cells[1].text = "Kanto"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (JAPANESE.encode("utf-8"), "a.txt"),
        (b"\xef\xbb\xbf" + JAPANESE.encode("utf-8"), "a.md"),
        (JAPANESE.encode("utf-16"), "a.txt"),  # with BOM, little-endian
        (b"\xfe\xff" + JAPANESE.encode("utf-16-be"), "a.txt"),
        (JAPANESE.encode("utf-32"), "a.txt"),
        (JAPANESE.encode("shift_jis"), "a.txt"),
        (JAPANESE.encode("euc_jp"), "a.csv"),
        (JAPANESE.encode("cp932"), "notes.TXT"),
    ],
)
def test_text_encodings(data: bytes, filename: str) -> None:
    assert parse_file(data, filename) == JAPANESE


@pytest.mark.parametrize(
    "filename",
    ["main.py", "app.js", "x.ts", "a.c", "a.cpp", "A.java", "m.go", "l.rs", "r.rb", "i.php",
     "s.sh", "s.css", "p.tex", "d.xml", "d.json", "d.csv", "README.md", "notes.txt"],
)  # fmt: skip
def test_code_and_data_files_are_kept_verbatim(filename: str) -> None:
    source = 'def f(x):\r\n    return {"k": x}  # コメント\r\n'
    assert parse_file(source.encode(), filename) == source.replace("\r\n", "\n")
    assert is_supported(filename)


def test_html_keeps_visible_text_only() -> None:
    html = (
        "<html><head><title>Title</title><style>p{color:red}</style></head><body>"
        "<script>var secret = 1;</script><h1>Heading</h1><p>Hello <b>bold</b> world.</p>"
        "<ul><li>one</li><li>two</li></ul></body></html>"
    )
    assert parse_file(html.encode(), "page.html") == "Title\nHeading\nHello bold world.\none\ntwo"


def test_pdf() -> None:
    text = parse_file(_pdf(["Invoice number 4411", "Total due: 99 EUR"]), "invoice.pdf")
    assert "Invoice number 4411" in text and "Total due: 99 EUR" in text


def test_docx() -> None:
    text = parse_file(_docx(), "report.docx")
    assert text.splitlines() == [
        "Quarterly report",
        "Revenue grew by 12 percent.",
        JAPANESE,
        "Region\tKanto",
    ]


@pytest.mark.parametrize("filename", ["image.png", "archive.zip", "sheet.xlsx", "noextension"])
def test_unsupported_types(filename: str) -> None:
    assert not is_supported(filename)
    with pytest.raises(UnsupportedFileError) as caught:
        parse_file(b"data", filename)
    assert caught.value.code == "unsupported_file"


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b"", "empty.txt"),
        (b"  \n\t\n", "blank.md"),
        (b"<html><script>only()</script></html>", "blank.html"),
        (b"%PDF-1.4 garbage", "broken.pdf"),
        (b"PK\x03\x04 not a real zip", "broken.docx"),
        (b"\xff\xfe\x00", "bad-utf16.txt"),
    ],
)
def test_invalid_files(data: bytes, filename: str) -> None:
    with pytest.raises(InvalidFileError) as caught:
        parse_file(data, filename)
    assert caught.value.code == "invalid_file"
