"""The blob store on an S3-compatible bucket (AWS S3, MinIO, Garage, Cloudflare R2, ...).

boto3, the AWS SDK, called in a thread pool of our own: its managed transfer (s3transfer) does
multipart uploads (part sizing, parallel parts, retries, abort on failure) that aiobotocore
leaves to the caller, it is the client every S3-compatible server tests against, and it carries
no second HTTP stack or tight botocore pin. The calls block on the network only, so a small
pool (not the loop's default executor, which the rest of the server shares) keeps the loop free.
Downloads are read one chunk per call, so a slow client holds no thread between chunks.
"""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, TypeVar

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from assistantd.files.blobs import CHUNK, BlobMissingError, BlobStoreUnavailableError
from assistantd.settings import Settings

T = TypeVar("T")
PART_SIZE = 8 * 1024 * 1024  # S3's minimum part is 5 MiB; memory per upload ≈ parts in flight
PARTS_IN_FLIGHT = 4
_MISSING = {"NoSuchKey", "404", "NotFound"}


class _Counted:
    """Reads the source once, front to back, counting bytes. It offers only `read`, so
    s3transfer takes the non-seekable path: one part in memory per part in flight, whatever the
    file's size, and the count is the stored size."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._source.read(size)
        self.size += len(data)
        return data


class S3BlobStore:
    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        addressing_style: str = "auto",
        create_bucket: bool = False,
        threads: int = 16,
        part_size: int = PART_SIZE,
    ) -> None:
        # Without keys boto3 takes its usual chain (AWS_* variables, profile, instance role).
        session = boto3.session.Session(
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            region_name=region,
        )
        config = Config(
            s3={"addressing_style": addressing_style},
            retries={"max_attempts": 4, "mode": "standard"},
            max_pool_connections=threads + PARTS_IN_FLIGHT,
            connect_timeout=10,
            read_timeout=60,
        )
        self._client: Any = session.client("s3", endpoint_url=endpoint_url, config=config)
        self._bucket = bucket
        self._prefix = prefix
        self._create_bucket = create_bucket
        self._region = region
        self._transfer = TransferConfig(
            multipart_threshold=part_size,
            multipart_chunksize=part_size,
            max_concurrency=PARTS_IN_FLIGHT,
        )
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="s3-blobs")

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        if not settings.s3.bucket:
            raise ValueError("ASSISTANTD_BLOB_STORE=s3 needs ASSISTANTD_S3_BUCKET")
        return cls(
            settings.s3.bucket,
            prefix=settings.s3.prefix,
            endpoint_url=settings.s3.endpoint_url,
            region=settings.s3.region,
            access_key_id=settings.s3.access_key_id,
            secret_access_key=settings.s3.secret_access_key,
            addressing_style=settings.s3.addressing_style,
            create_bucket=settings.s3.create_bucket,
        )

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if str(error.get("Code")) in _MISSING:
                key = str(kwargs.get("Key", "")).removeprefix(self._prefix)
                raise BlobMissingError(key) from None
            raise BlobStoreUnavailableError(str(error.get("Message") or exc)) from exc
        except BotoCoreError as exc:  # unreachable endpoint, bad credentials setup, timeouts
            raise BlobStoreUnavailableError(str(exc)) from exc

    def _key(self, key: str) -> str:
        return self._prefix + key

    async def put(self, key: str, source: BinaryIO) -> int:
        counted = _Counted(source)
        await self._call(
            self._client.upload_fileobj,
            counted,
            self._bucket,
            self._key(key),
            Config=self._transfer,
        )
        return counted.size

    async def put_bytes(self, key: str, data: bytes) -> int:
        if len(data) >= self._transfer.multipart_threshold:
            return await self.put(key, io.BytesIO(data))
        key = self._key(key)
        await self._call(self._client.put_object, Bucket=self._bucket, Key=key, Body=data)
        return len(data)

    async def _open(self, key: str) -> Any:
        response = await self._call(
            self._client.get_object, Bucket=self._bucket, Key=self._key(key)
        )
        return response["Body"]

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        return self._chunks(await self._open(key))

    async def _chunks(self, body: Any) -> AsyncIterator[bytes]:
        try:
            while chunk := await self._call(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def read(self, key: str) -> bytes:
        body = await self._open(key)
        try:
            data: bytes = await self._call(body.read)
            return data
        finally:
            body.close()

    async def exists(self, key: str) -> bool:
        try:
            await self._call(self._client.head_object, Bucket=self._bucket, Key=self._key(key))
        except BlobMissingError:
            return False
        return True

    async def delete(self, key: str) -> None:
        # S3's DELETE of a missing key succeeds: nothing to catch.
        await self._call(self._client.delete_object, Bucket=self._bucket, Key=self._key(key))

    async def start(self) -> None:
        try:
            await self._call(self._client.head_bucket, Bucket=self._bucket)
        except BlobMissingError:
            if not self._create_bucket:
                missing = f"the bucket {self._bucket!r} does not exist"
                raise BlobStoreUnavailableError(missing) from None
            options: dict[str, Any] = {"Bucket": self._bucket}
            if self._region and self._region != "us-east-1":
                options["CreateBucketConfiguration"] = {"LocationConstraint": self._region}
            try:
                await self._call(self._client.create_bucket, **options)
            except BlobStoreUnavailableError:  # another node made it first (or it failed)
                await self._call(self._client.head_bucket, Bucket=self._bucket)

    async def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
