"""Who may read and write what: roles declared in access/roles.yaml, enforced by the object store.

On the stack every role is a MinIO group with a policy made from its declaration
(:func:`policy`): the pipeline reads and writes the whole lake bucket; engineers read every layer;
analysts read ``lake/theme/`` only and write nothing in the lake. Every account may add (never
change or delete) its own query records under ``queries/<its own name>/`` of the audit bucket,
which is object-locked in compliance mode for the audit window: no account, not even the store's
root, erases one before then. :func:`provision` creates buckets, policies, groups and the accounts
roles.yaml lists; :func:`grant` adds one. The caller of a query is whoever its credentials prove
(:func:`caller`, MinIO's account info), never a name the caller gives.

The embedded local default is a single-user development mode: the lake is a folder only its owner
(0700) reads, and its owner reads every layer.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from citylake.settings import PROJECT_ROOT, Settings

ROLES_FILE = PROJECT_ROOT / "access" / "roles.yaml"
LAYERS = ("raw", "standard", "base", "theme", "ops")
ALL = "*"  # in a role's write list: the whole lake bucket (extracts included)
ROLE_SID = "CitylakeRole"  # + the role's name: the Sid of a role policy's first statement
LOCAL_ROLE = "owner"


class AccessError(PermissionError):
    """Credentials that prove no citylake role, or a roles file that is wrong (file and field named)."""


class Role(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    read: list[str]
    write: list[str] = []
    reads_audit: bool = False


class Access(BaseModel):
    model_config = ConfigDict(extra="forbid")
    roles: dict[str, Role]
    users: dict[str, str] = Field(default_factory=dict)  # the accounts provisioning creates


def load_access(path: Path = ROLES_FILE) -> Access:
    """access/roles.yaml, checked: role names, layers and the users' roles."""
    try:
        access = Access.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as error:
        problem = error.errors()[0]
        field = ".".join(str(part) for part in problem["loc"])
        raise AccessError(f"{path}: {field}: {problem['msg']}") from None
    for name, role in access.roles.items():
        if not re.fullmatch(r"[a-z][a-z0-9]*", name):
            raise AccessError(f"{path}: roles.{name}: a role name is lower-case letters and digits")
        for kind, layers in (("read", role.read), ("write", role.write)):
            unknown = [layer for layer in layers if layer not in (*LAYERS, ALL)]
            if unknown:
                raise AccessError(f"{path}: roles.{name}.{kind}: unknown layers {', '.join(unknown)}")
    for user, role in access.users.items():
        if role not in access.roles:
            raise AccessError(f"{path}: users.{user}: role {role} is not declared")
        if not re.fullmatch(r"[a-z][a-z0-9._-]{2,63}", user):
            raise AccessError(f"{path}: users.{user}: a user name is 3-64 lower-case letters, digits, . _ -")
    return access


def _layers(names: list[str]) -> list[str]:
    return list(LAYERS) if ALL in names else names


def policy(settings: Settings, name: str, role: Role) -> dict:
    """The MinIO (IAM) policy of a role: its first statement's Sid names the role."""
    lake, audit = settings.s3.bucket, settings.s3.audit_bucket
    prefix = settings.lake_root.removeprefix(f"s3a://{lake}").strip("/")
    prefix = f"{prefix}/" if prefix else ""
    read = _layers(role.read)
    statements = [
        {"Sid": f"{ROLE_SID}{name}", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": [f"arn:aws:s3:::{lake}/{prefix}{layer}/*" for layer in read]},
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": [f"arn:aws:s3:::{lake}"],
         "Condition": {"StringLike": {"s3:prefix": [f"{prefix}{layer}/*" for layer in read]
                                      + [f"{prefix}{layer}" for layer in read]}}},
        {"Effect": "Allow", "Action": ["s3:GetBucketLocation"], "Resource": [f"arn:aws:s3:::{lake}"]},
        {"Effect": "Allow", "Action": ["s3:PutObject"],
         "Resource": [f"arn:aws:s3:::{audit}/queries/${{aws:username}}/*"]},
    ]
    if ALL in role.write:
        statements.append({"Effect": "Allow", "Action": ["s3:*"],
                           "Resource": [f"arn:aws:s3:::{lake}", f"arn:aws:s3:::{lake}/*"]})
        statements.append({"Effect": "Allow", "Action": ["s3:ListAllMyBuckets"], "Resource": ["arn:aws:s3:::*"]})
    elif role.write:
        statements.append({"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject",
                                                         "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
                           "Resource": [f"arn:aws:s3:::{lake}/{prefix}{layer}/*" for layer in _layers(role.write)]})
    if role.reads_audit:
        statements.append({"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                           "Resource": [f"arn:aws:s3:::{audit}/*"]})
        statements.append({"Effect": "Allow", "Action": ["s3:ListBucket", "s3:ListBucketVersions"],
                           "Resource": [f"arn:aws:s3:::{audit}"]})
    return {"Version": "2012-10-17", "Statement": statements}


def _admin(settings: Settings, access_key: str, secret_key: str):
    from minio import MinioAdmin
    from minio.credentials import StaticProvider

    endpoint = settings.s3.endpoint
    return MinioAdmin(endpoint=endpoint.split("://", 1)[-1], secure=endpoint.startswith("https://"),
                      credentials=StaticProvider(access_key, secret_key))


def _store(settings: Settings, access_key: str, secret_key: str):
    import boto3

    return boto3.client("s3", endpoint_url=settings.s3.endpoint, region_name=settings.s3.region,
                        aws_access_key_id=access_key, aws_secret_access_key=secret_key)


def _credentials_file(folder: Path, user: str) -> Path:
    return folder / f"{user}.env"


def _write_credentials(folder: Path, user: str, secret: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = _credentials_file(folder, user)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(f"CITYLAKE_S3_ACCESS_KEY={user}\nCITYLAKE_S3_SECRET_KEY={secret}\n")


def provision(settings: Settings, admin_key: str, admin_secret: str, credentials_dir: Path,
              access: Access | None = None) -> list[str]:
    """Buckets, one policy and group per role, and the listed accounts (each with a random secret
    kept in ``credentials_dir/<user>.env``, 0600, made once). Idempotent; returns the accounts."""
    access = access or load_access()
    admin, store = _admin(settings, admin_key, admin_secret), _store(settings, admin_key, admin_secret)
    existing = {bucket["Name"] for bucket in store.list_buckets().get("Buckets", [])}
    if settings.s3.bucket not in existing:
        store.create_bucket(Bucket=settings.s3.bucket)
    if settings.s3.audit_bucket not in existing:
        store.create_bucket(Bucket=settings.s3.audit_bucket, ObjectLockEnabledForBucket=True)
        store.put_object_lock_configuration(Bucket=settings.s3.audit_bucket, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": settings.audit_days}}})
    for name, role in access.roles.items():
        admin.policy_add(f"citylake-{name}", policy=policy(settings, name, role))
    for user, role in access.users.items():
        if not _credentials_file(credentials_dir, user).exists():
            secret = secrets.token_urlsafe(24)
            admin.user_add(user, secret)
            _write_credentials(credentials_dir, user, secret)
        _join(admin, user, role)
    return list(access.users)


def _join(admin, user: str, role: str) -> None:
    from minio.error import MinioAdminException

    group = f"citylake-{role}"
    admin.group_add(group, [user])
    try:
        admin.attach_policy([f"citylake-{role}"], group=group)
    except MinioAdminException as error:  # attached already
        if "already" not in str(error).lower():
            raise


def grant(settings: Settings, admin_key: str, admin_secret: str, user: str, role: str,
          access: Access | None = None) -> str:
    """A new account ``user`` in ``role``'s group; returns its secret (shown once, kept nowhere)."""
    access = access or load_access()
    if role not in access.roles:
        raise AccessError(f"no role {role} in {ROLES_FILE.name} (roles: {', '.join(access.roles)})")
    if not re.fullmatch(r"[a-z][a-z0-9._-]{2,63}", user):
        raise AccessError("a user name is 3-64 lower-case letters, digits, . _ -")
    admin = _admin(settings, admin_key, admin_secret)
    admin.policy_add(f"citylake-{role}", policy=policy(settings, role, access.roles[role]))
    secret = secrets.token_urlsafe(24)
    admin.user_add(user, secret)
    _join(admin, user, role)
    return secret


@dataclass(frozen=True)
class Caller:
    """Who runs a query, as their credentials prove it, and the layers their role reads."""

    user: str
    role: str
    layers: tuple[str, ...]
    single_user: bool = False  # the local development mode


def caller(settings: Settings, access: Access | None = None) -> Caller:
    """The object store's account for the credentials in settings (MinIO account info) and its
    role (the Sid of its role policy); locally, the owner of the lake folder."""
    if settings.s3 is None:
        return _local_owner(settings)
    from minio.error import MinioAdminException

    access = access or load_access()
    try:
        account = json.loads(_admin(settings, settings.s3.access_key, settings.s3.secret_key).account_info())
    except MinioAdminException as error:
        raise AccessError(f"the object store refused these credentials (HTTP {error._code})") from None
    sids = [statement.get("Sid", "") for statement in (account.get("Policy") or {}).get("Statement", [])]
    roles = sorted({sid.removeprefix(ROLE_SID) for sid in sids if sid.startswith(ROLE_SID)} & set(access.roles))
    if len(roles) != 1:
        raise AccessError(f"{account.get('AccountName')}: the credentials carry "
                          f"{'no citylake role' if not roles else 'several roles: ' + ', '.join(roles)}")
    (role,) = roles
    return Caller(account["AccountName"], role, tuple(_layers(access.roles[role].read)))


def _local_owner(settings: Settings) -> Caller:
    user = pwd.getpwuid(os.geteuid()).pw_name
    for folder in (Path(settings.lake_root), settings.data_dir):
        if folder.exists():
            owner = folder.stat().st_uid
            if owner != os.geteuid() and os.geteuid() != 0:
                raise AccessError(f"{user}: the local lake belongs to another account (uid {owner}); in the "
                                  "single-user development mode only its owner queries it")
            break
    return Caller(user, LOCAL_ROLE, LAYERS, single_user=True)
