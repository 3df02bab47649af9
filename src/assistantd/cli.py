"""The `assistantd` command: serve, migrate, keys."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import sys

from assistantd.settings import Settings


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from assistantd.app import create_app

    exposed = not _is_loopback(args.host) and not args.insecure_no_auth
    if exposed and not settings.env_api_keys() and not asyncio.run(_has_db_keys(settings)):
        print(
            f"refusing to serve on {args.host} without API keys: set ASSISTANTD_API_KEYS or "
            "run `assistantd keys create --project NAME`, or pass --insecure-no-auth.",
            file=sys.stderr,
        )
        return 2
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=10,
    )
    return 0


async def _has_db_keys(settings: Settings) -> bool:
    from sqlalchemy import func, select

    from assistantd.db.engine import Database
    from assistantd.db.migrate import upgrade_async
    from assistantd.db.tables import api_keys

    await upgrade_async(settings.effective_database_url)
    db = Database(settings.effective_database_url)
    try:
        async with db.read() as conn:
            count = (await conn.execute(select(func.count()).select_from(api_keys))).scalar_one()
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

    print(build_image(tag=args.tag or settings.sandbox_image, offline=args.offline))
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
    return parser


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    sys.exit(args.handler(args, Settings()))
