"""File bytes + filename → plain text for file search.

Owns the list of supported types (by extension, as OpenAI's file search does), the text
decoding rules (BOMs, strict UTF-8, then charset-normalizer for legacy encodings such as
Shift_JIS and EUC-JP) and the typed failures a vector store file reports as `last_error`:
`unsupported_file` (a type we do not index) versus `invalid_file` (a supported type that would
not parse, or that holds no text). Formats are read with maintained libraries (pypdf,
python-docx, BeautifulSoup); nothing here is a hand-written format parser. It must not chunk,
embed or touch the database.
"""

from __future__ import annotations

import codecs
import io
import warnings
import zipfile
from collections.abc import Callable
from typing import ClassVar, Literal

import charset_normalizer

# pypdf, python-docx and BeautifulSoup are imported where they are used, on first use (parsing
# runs in worker threads): ~22 MB that a server which never parses a file does not hold.

ParseErrorCode = Literal["unsupported_file", "invalid_file"]


class FileParseError(Exception):
    code: ClassVar[ParseErrorCode]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedFileError(FileParseError):
    code = "unsupported_file"


class InvalidFileError(FileParseError):
    code = "invalid_file"


# Plain-text formats (prose, data and code): decoded and kept as they are.
TEXT_EXTENSIONS = frozenset(
    """txt text md markdown rst json jsonl csv tsv log yaml yml toml ini cfg xml tex
    py pyi js mjs cjs jsx ts tsx c h cc cpp cxx hpp hh cs java kt kts scala go rs rb php pl
    sh bash zsh ps1 bat css scss less sql r lua swift m mm dart ex exs erl hs ml clj vue
    svelte""".split()  # noqa: SIM905  (a word list reads best as text)
)
HTML_EXTENSIONS = frozenset({"html", "htm", "xhtml"})

_HTML_BLOCKS = [
    "p",
    "div",
    "br",
    "li",
    "tr",
    "td",
    "th",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "pre",
    "blockquote",
    "section",
    "article",
    "header",
    "footer",
    "table",
    "title",
    "dt",
    "dd",
]

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def extension(filename: str) -> str:
    """The lower-case extension without its dot ('' when there is none)."""
    _, dot, ext = filename.rpartition(".")
    return ext.lower() if dot else ""


def is_supported(filename: str) -> bool:
    ext = extension(filename)
    return ext in TEXT_EXTENSIONS or ext in HTML_EXTENSIONS or ext in _BINARY_PARSERS


def parse_file(data: bytes, filename: str) -> str:
    """The text of a file, with `\\n` line ends; raises a FileParseError subclass."""
    ext = extension(filename)
    if ext in TEXT_EXTENSIONS:
        text = decode_text(data)
    elif ext in HTML_EXTENSIONS:
        text = html_to_text(decode_text(data))
    elif ext in _BINARY_PARSERS:
        text = _BINARY_PARSERS[ext](data)
    else:
        raise UnsupportedFileError(f"Files with extension '.{ext}' are not supported.")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    if not text.strip():
        raise InvalidFileError("The file contains no text.")
    return text


def decode_text(data: bytes) -> str:
    """Decode text bytes: BOM first, then strict UTF-8, then charset detection."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise InvalidFileError(f"The file is not valid {codec}.") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise InvalidFileError("The file's text encoding could not be determined.")
    return str(best)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML document, one block per line."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    # Inline tags (<b>, <a>) stay inside their line; block elements end one.
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.append("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().splitlines())
    return "\n".join(line for line in lines if line)


def pdf_to_text(data: bytes) -> str:
    import pypdf

    try:
        # pypdf warns (rather than fails) on many small defects of real-world PDFs.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = pypdf.PdfReader(io.BytesIO(data))
            if reader.is_encrypted:
                raise InvalidFileError("Encrypted PDF files are not supported.")
            pages = [page.extract_text() or "" for page in reader.pages]
    except (pypdf.errors.PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InvalidFileError(f"The PDF file could not be parsed: {exc}") from exc
    return "\n\n".join(page.strip() for page in pages if page.strip())


def docx_to_text(data: bytes) -> str:
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InvalidFileError(f"The DOCX file could not be parsed: {exc}") from exc
    blocks = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            blocks.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(block for block in blocks if block.strip())


_BINARY_PARSERS: dict[str, Callable[[bytes], str]] = {"pdf": pdf_to_text, "docx": docx_to_text}
