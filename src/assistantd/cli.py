"""The `assistantd` command: serve, migrate, keys, sandbox, import, export."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import sys
from typing import Any

from assistantd.settings import Settings

LOCAL_PROJECT = "default"  # the project of local mode (assistantd.auth)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import os

    from assistantd.serving import serve

    # Flags win over the environment, and reach worker processes through it.
    if args.workers is not None:
        os.environ["ASSISTANTD_WORKERS"] = str(args.workers)
    if args.role is not None:
        os.environ["ASSISTANTD_ROLE"] = args.role
    settings = settings.model_copy(
        update={
            "workers": args.workers or settings.workers,
            "role": args.role or settings.role,
        }
    )
    sqlite = settings.effective_database_url.startswith("sqlite")
    if sqlite and (settings.workers > 1 or settings.role != "all"):
        print(
            "refusing to serve: several processes (--workers N / ASSISTANTD_WORKERS above 1) and "
            "the api and worker roles need PostgreSQL (ASSISTANTD_DATABASE_URL="
            "postgresql+asyncpg://...): SQLite is the database of one process.",
            file=sys.stderr,
        )
        return 2
    exposed = not _is_loopback(args.host) and not args.insecure_no_auth
    if exposed and not settings.env_api_keys() and not asyncio.run(_has_db_keys(settings)):
        print(
            f"refusing to serve on {args.host} without API keys: set ASSISTANTD_API_KEYS or "
            "run `assistantd keys create --project NAME`, or pass --insecure-no-auth.",
            file=sys.stderr,
        )
        return 2
    return serve(settings, args.host, args.port, args.log_level)


async def _has_db_keys(settings: Settings) -> bool:
    from assistantd.db import api_keys
    from assistantd.db.engine import Database
    from assistantd.db.migrate import upgrade_async

    await upgrade_async(settings.effective_database_url)
    db = Database(settings.effective_database_url)
    try:
        async with db.read() as conn:
            count = await api_keys.count(conn)
    finally:
        await db.dispose()
    return bool(count)


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from assistantd.db.migrate import upgrade

    upgrade(settings.effective_database_url)
    print("database is up to date")
    return 0


def _keys_create(args: argparse.Namespace, settings: Settings) -> int:
    from assistantd.auth import create_key
    from assistantd.db.engine import Database
    from assistantd.db.migrate import upgrade_async

    async def run() -> str:
        await upgrade_async(settings.effective_database_url)
        db = Database(settings.effective_database_url)
        try:
            return await create_key(db, args.project, args.name)
        finally:
            await db.dispose()

    print(asyncio.run(run()))
    return 0


def _sandbox_build(args: argparse.Namespace, settings: Settings) -> int:
    from assistantd.tools.code_interpreter.image import build_image

    print(build_image(tag=args.tag or settings.sandbox.image, offline=args.offline))
    return 0


def _print_report(report: dict[str, Any], as_json: bool) -> None:
    import json

    if as_json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return
    for key in ("imported", "already_present"):
        counts = report.get(key)
        if isinstance(counts, dict) and any(counts.values()):
            shown = ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
            print(f"{key.replace('_', ' ')}: {shown}")
    for key in ("placeholders", "attached"):
        items = report.get(key)
        if items:
            print(f"{key}: {len(items)} file(s): {' '.join(map(str, items))}")
    for problem in report.get("skipped") or []:
        print(f"skipped {problem['where']} ({problem['id']}): {problem['reason']}")
    for note in report.get("notes") or []:
        print(f"note: {note}")


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from assistantd.db.engine import Database
    from assistantd.db.migrate import upgrade_async
    from assistantd.effects import Outbox, Targets
    from assistantd.file_search.embeddings import make_embedder
    from assistantd.file_search.engine import FileSearchEngine
    from assistantd.file_search.sqlite_extensions import (
        install_sqlite_extensions,
        register_sqlite_extensions,
    )
    from assistantd.files.blobs import make_blob_store
    from assistantd.transfer.export_format import ExportError
    from assistantd.transfer.importer import ImportConflict, attach_bytes, import_export
    from assistantd.vector_stores.ingestion import Ingestor

    if args.directory is None and args.files is None:
        print("give an export directory, or --files DIR to attach bytes", file=sys.stderr)
        return 2

    async def run() -> dict[str, Any]:
        await upgrade_async(settings.effective_database_url)
        register_sqlite_extensions()  # the file-search index, written by the ingestion below
        db = Database(settings.effective_database_url)
        install_sqlite_extensions(db.engine)
        blobs = make_blob_store(settings)
        await blobs.start()
        # The vector store files the import attaches are indexed here, once it has committed,
        # so they are searchable when the command returns (a running server needs no restart).
        file_search = FileSearchEngine(db, make_embedder(settings))
        ingestor = Ingestor(db, blobs, file_search)
        targets = Targets(ingestor=ingestor)
        db.outboxes = lambda: Outbox(targets)
        try:
            result: dict[str, Any] = {}
            if args.directory is not None:
                new_ids = Path(args.id_map) if args.new_ids else None
                done = await import_export(
                    db, blobs, Path(args.directory), args.project, new_ids_map=new_ids
                )
                result = done.as_dict()
                await ingestor.wait_idle()
            if args.files is not None:
                attached = await attach_bytes(db, blobs, Path(args.files), args.project)
                result["attached"] = attached.attached
                result["skipped"] = [*result.get("skipped", []), *attached.as_dict()["skipped"]]
                result["notes"] = [*result.get("notes", []), *attached.notes]
            return result
        finally:
            await ingestor.stop()
            await file_search.aclose()
            await db.dispose()
            await blobs.close()

    try:
        report = asyncio.run(run())
    except (ExportError, ImportConflict) as error:
        print(f"import failed: {error}", file=sys.stderr)
        return 1
    _print_report(report, args.json)
    return 3 if report.get("skipped") else 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    import json
    from pathlib import Path

    from assistantd.db.engine import Database
    from assistantd.db.migrate import upgrade_async
    from assistantd.files.blobs import make_blob_store
    from assistantd.transfer.exporter import export_project

    async def run() -> dict[str, Any]:
        await upgrade_async(settings.effective_database_url)
        db = Database(settings.effective_database_url)
        blobs = make_blob_store(settings)
        await blobs.start()
        try:
            return await export_project(db, blobs, Path(args.directory), args.project)
        finally:
            await db.dispose()
            await blobs.close()

    manifest = asyncio.run(run())
    print(json.dumps({key: manifest[key] for key in ("assistants_count", "threads_exported")}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistantd", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-level", default="info")
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="allow a non-loopback host with no API keys configured",
    )
    serve.add_argument(
        "--workers",
        type=int,
        help="processes on this machine (default: ASSISTANTD_WORKERS or 1; above 1 needs "
        "PostgreSQL)",
    )
    serve.add_argument(
        "--role",
        choices=("all", "api", "worker"),
        help="all: serve and execute runs (default); api: serve only; worker: execute only",
    )
    serve.set_defaults(handler=_serve)

    migrate = commands.add_parser("migrate", help="apply pending database migrations")
    migrate.set_defaults(handler=_migrate)

    keys = commands.add_parser("keys", help="manage API keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="make a key for a project; prints it once")
    create.add_argument("--project", required=True)
    create.add_argument("--name")
    create.set_defaults(handler=_keys_create)
    sandbox = commands.add_parser("sandbox", help="the code interpreter's sandbox image")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    build = sandbox_commands.add_parser(
        "build", help="build the image (a quick no-op when it is up to date)"
    )
    build.add_argument(
        "--offline",
        action="store_true",
        help="build from Debian's packages, no image registry needed",
    )
    build.add_argument("--tag", help="image name (default: ASSISTANTD_SANDBOX_IMAGE)")
    build.set_defaults(handler=_sandbox_build)

    importing = commands.add_parser(
        "import", help="load an export (OpenAI's export format) into a project, keeping ids"
    )
    importing.add_argument("directory", nargs="?", help="the export directory")
    importing.add_argument("--project", default=LOCAL_PROJECT)
    importing.add_argument(
        "--new-ids", action="store_true", help="give every object a fresh id (see --id-map)"
    )
    importing.add_argument(
        "--id-map",
        default="assistantd-id-map.json",
        help="with --new-ids: the JSON mapping original -> new id, written (and reused)",
    )
    importing.add_argument(
        "--files", metavar="DIR", help="attach bytes to placeholder files, by file id or name"
    )
    importing.add_argument("--json", action="store_true", help="print the report as JSON")
    importing.set_defaults(handler=_import)

    exporting = commands.add_parser(
        "export", help="write a project in the export format, with the file bytes"
    )
    exporting.add_argument("directory")
    exporting.add_argument("--project", default=LOCAL_PROJECT)
    exporting.set_defaults(handler=_export)
    return parser


def main(argv: list[str] | None = None) -> None:
    from assistantd.observability.logs import configure_logging

    args = build_parser().parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_format, getattr(args, "log_level", "info").upper())
    sys.exit(args.handler(args, settings))
