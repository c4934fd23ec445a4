"""The incoming drop folder and the bucket: local files, or objects on the S3-compatible server.

In the s3 environment departments' extracts arrive under s3://<bucket>/incoming/ and the lake is
under s3a://<bucket>/lake/; boto3 manages the bucket and the objects.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from citylake.settings import Settings


class MissingExtract(FileNotFoundError):
    pass


def make_private(settings: Settings) -> None:
    """The data folder (drop folder, local lake, reports, keys) and a local lake root elsewhere
    made, or narrowed, to their owner only (0700): no other account of the machine reads an
    extract or a table, whatever mode the files inside were written with."""
    folders = [settings.data_dir]
    if "://" not in settings.lake_root:
        folders.append(Path(settings.lake_root))
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        if folder.stat().st_mode & 0o077:
            folder.chmod(0o700)


def pseudonym_key(settings: Settings) -> bytes:
    """The key of the analysts' pseudonyms (settings.pseudonym_key_path): made on first use, 32
    random bytes, readable by its owner only (0600 in a 0700 folder)."""
    path = settings.pseudonym_key_path
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # made meanwhile by another job
            return bytes.fromhex(path.read_text(encoding="ascii").strip())
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def incoming_root(settings: Settings) -> str:
    if settings.s3 is None:
        return str(settings.incoming_dir)
    return f"s3://{settings.s3.bucket}/incoming"


def delta_rs_lake(settings: Settings) -> tuple[str, dict[str, str]]:
    """The lake root as delta-rs (the JVM-free reader) names it, with its object-store options."""
    root = settings.lake_root.rstrip("/")
    if settings.s3 is None or not root.startswith("s3a://"):
        return root, {}
    s3 = settings.s3
    return "s3://" + root.removeprefix("s3a://"), {
        "AWS_ENDPOINT_URL": s3.endpoint, "AWS_REGION": s3.region, "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key, "AWS_ALLOW_HTTP": "true", "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
        "AWS_FORCE_PATH_STYLE": "true"}


def s3_client(settings: Settings):
    import boto3

    assert settings.s3 is not None, "an s3 client needs CITYLAKE_ENV=s3 or cluster"
    return boto3.client(
        "s3",
        endpoint_url=settings.s3.endpoint,
        aws_access_key_id=settings.s3.access_key,
        aws_secret_access_key=settings.s3.secret_key,
        region_name=settings.s3.region,
    )


def ensure_bucket(settings: Settings) -> None:
    client = s3_client(settings)
    existing = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    if settings.s3.bucket not in existing:
        client.create_bucket(Bucket=settings.s3.bucket)


def split_s3(uri: str) -> tuple[str, str]:
    """Bucket and key of an s3:// address."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


@contextmanager
def open_extract(settings: Settings, location: str) -> Iterator:
    """The extract's bytes, line by line; MissingExtract if it was never delivered."""
    if location.startswith("s3://"):
        bucket, key = split_s3(location)
        client = s3_client(settings)
        with tempfile.TemporaryFile() as local:
            try:
                client.download_fileobj(bucket, key, local)
            except client.exceptions.ClientError as error:
                if not_found(error):
                    raise MissingExtract(f"{location}: extract not delivered") from None
                raise
            local.seek(0)
            yield local
        return
    path = Path(location)
    if not path.exists():
        raise MissingExtract(f"{location}: extract not delivered")
    with path.open("rb") as handle:
        yield handle


def delivered(settings: Settings, contract, run_date: str) -> bool:
    """Whether the department has delivered the night's extract of `contract` (a
    contracts.Contract): its file is in the drop folder or its object in the bucket, or its
    exchange table holds rows of the night. Reads no content: what the ingest DAG waits on."""
    if contract.jdbc is not None:
        from citylake import departments_db

        return departments_db.night_delivered(settings, contract.jdbc.table, contract.jdbc.batch_column,
                                              run_date)
    location = contract.location_for(incoming_root(settings), run_date)
    if not location.startswith("s3://"):
        return Path(location).is_file()
    bucket, key = split_s3(location)
    client = s3_client(settings)
    try:
        client.head_object(Bucket=bucket, Key=key)
    except client.exceptions.ClientError as error:
        if not_found(error):
            return False
        raise
    return True


def not_found(error) -> bool:
    """Whether a boto3 ClientError says the object is not there (a GET says NoSuchKey, a HEAD,
    which has no body, only its status)."""
    return error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def deliver(settings: Settings, local_root: Path, run_date: str) -> list[str]:
    """Puts a night's locally generated extracts where the pipeline reads them."""
    night = local_root / run_date
    files = sorted(p for p in night.rglob("*") if p.is_file())
    if settings.s3 is None:
        target = settings.incoming_dir / run_date
        if night.resolve() != target.resolve():
            shutil.copytree(night, target, dirs_exist_ok=True)
        return [str(target / p.relative_to(night)) for p in files]
    ensure_bucket(settings)
    client = s3_client(settings)
    uris = []
    for file in files:
        key = f"incoming/{run_date}/{file.relative_to(night).as_posix()}"
        client.upload_file(str(file), settings.s3.bucket, key)
        uris.append(f"s3://{settings.s3.bucket}/{key}")
    return uris
