"""Images and files in Responses input, made into what a chat-completions model reads.

`input_image` with an `image_url` is passed on as is; with a `file_id` it becomes a data URL
of the uploaded file's bytes (vision models get the pixels, as for runs). `input_file` (a
`file_id` of an upload, or `file_data`: a base64 data URL with its `filename`) becomes text:
the file's text as file search extracts it (PDF, DOCX, text, code, HTML...), under a line
naming the file; chat-completions servers do not all take file parts, every model reads text.
`file_url` is refused: the server does not fetch URLs its users name.

Request input is checked when the response is created (an unknown `file_id` or a file with
no text is a 400 naming the part); a file deleted after an earlier response in the chain is
shown to the model as a note instead.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.errors import InvalidRequestError
from assistantd.file_search.parsing import FileParseError, parse_file
from assistantd.files import store as files_store
from assistantd.files.blobs import BlobStore
from assistantd.files.schemas import is_placeholder
from assistantd.items.schemas import InputFile, InputImage, Item, MessageItem

MAX_FILE_CHARS = 400_000  # of one file's text given to the model (a long book)
_MIME_EXTENSIONS = {
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/markdown": "md",
    "text/html": "html",
    "text/csv": "csv",
    "application/json": "json",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}


@dataclass
class Attachments:
    """What the model sees of the images and files named in a transcript."""

    images: dict[str, str] = field(default_factory=dict)  # file_id -> data URL
    texts: dict[str, str] = field(default_factory=dict)  # file_id or file_data -> text

    def image_url(self, part: InputImage) -> str | None:
        if part.image_url:
            return part.image_url
        return self.images.get(part.file_id) if part.file_id else None

    def file_text(self, part: InputFile) -> str:
        name = part.filename or part.file_id or "file"
        key = part.file_id or part.file_data
        text = self.texts.get(key) if key else None
        if text is None:
            return f"[file {name}: not available]"
        return f"[file {name}]\n{text}"


def _parts(items: Sequence[Item]) -> Iterator[tuple[int, int, InputImage | InputFile]]:
    for index, item in enumerate(items):
        if isinstance(item, MessageItem):
            for position, part in enumerate(item.content):
                if isinstance(part, InputImage | InputFile):
                    yield index, position, part


async def load(
    conn: AsyncConnection,
    blobs: BlobStore,
    project: str,
    history: Sequence[Item],
    inputs: Sequence[Item],
    *,
    param: str = "input",
) -> Attachments:
    """The attachments of `history + inputs`; those of `inputs` must be usable (else a 400
    whose `param` is `input[i].content[j]...`)."""
    found = Attachments()
    wanted: list[tuple[str, str | None, bool]] = []  # (file_id, param or None, is an image)
    for source, items in ((None, history), (param, inputs)):
        for index, position, part in _parts(items):
            where = f"{source}[{index}].content[{position}]" if source else None
            if isinstance(part, InputImage):
                if part.file_id is not None and part.image_url is None:
                    wanted.append((part.file_id, where and f"{where}.file_id", True))
                elif part.image_url is None and where is not None:
                    raise InvalidRequestError(
                        "An input_image needs an 'image_url' or a 'file_id'.",
                        param=f"{where}.image_url",
                    )
            elif part.file_data is not None:
                found.texts[part.file_data] = _inline_text(part, where)
            elif part.file_id is not None:
                wanted.append((part.file_id, where and f"{where}.file_id", False))
            elif where is not None and part.file_url is not None:
                raise InvalidRequestError(
                    "input_file with 'file_url' is not supported by this server: upload the "
                    "file (POST /v1/files) and give its 'file_id'.",
                    param=f"{where}.file_url",
                    code="unsupported_parameter",
                )
            elif where is not None:
                raise InvalidRequestError(
                    "An input_file needs a 'file_id' or 'file_data'.", param=f"{where}.file_id"
                )
    if not wanted:
        return found
    ids = sorted({file_id for file_id, _, _ in wanted})
    files = {f.id: f for f in await files_store.get_many(conn, project, ids)}
    data: dict[str, bytes] = {}
    for file_id, where, image in wanted:
        file = files.get(file_id)
        if file is None or is_placeholder(file):  # unknown, or imported without its bytes
            if where is not None:
                raise InvalidRequestError(f"No file found with id '{file_id}'.", param=where)
            continue
        if file_id not in data:
            data[file_id] = await blobs.read(file.id)
        if image:
            if _image_kind(data[file_id]) is not None:
                found.images[file_id] = _data_url(data[file_id])
            elif where is not None:
                raise InvalidRequestError(
                    f"The file '{file.filename}' is not an image (PNG, JPEG, GIF or WebP).",
                    param=where,
                )
            continue
        try:
            found.texts[file_id] = _clip(parse_file(data[file_id], file.filename))
        except FileParseError as error:
            if where is not None:
                raise InvalidRequestError(
                    f"The file '{file.filename}' has no text the model can read: {error}",
                    param=where,
                ) from None
    return found


def _inline_text(part: InputFile, where: str | None) -> str:
    data_param = f"{where}.file_data" if where else None
    header, _, payload = (part.file_data or "").partition(",")
    if not payload:  # plain base64, no data: header
        header, payload = "", header
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequestError(
            "Invalid 'file_data': expected a base64 data URL.", param=data_param
        ) from None
    mime = header.removeprefix("data:").split(";")[0]
    filename = part.filename or f"file.{_MIME_EXTENSIONS.get(mime, 'txt')}"
    try:
        return _clip(parse_file(data, filename))
    except FileParseError as error:
        if where is None:
            return "(no text)"
        raise InvalidRequestError(
            f"The file '{filename}' has no text the model can read: {error}",
            param=f"{where}.filename" if part.filename else data_param,
        ) from None


def _clip(text: str) -> str:
    if len(text) <= MAX_FILE_CHARS:
        return text
    return text[:MAX_FILE_CHARS] + f"\n[... {len(text) - MAX_FILE_CHARS} more characters]"


_SIGNATURES = {
    b"\x89PNG": "png",
    b"\xff\xd8\xff": "jpeg",
    b"GIF87a": "gif",
    b"GIF89a": "gif",
}


def _image_kind(data: bytes) -> str | None:
    for signature, kind in _SIGNATURES.items():
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def _data_url(data: bytes) -> str:
    return f"data:image/{_image_kind(data)};base64,{base64.b64encode(data).decode()}"
