"""`citygrid db backup` / `db restore`: the database and the token signing key, in one file.

A backup is a tar archive holding ``database.dump`` (``pg_dump`` custom format: every table,
the schema revision and the PostGIS geometry, restorable with ``pg_restore``),
``secret_key`` (the key that signs sign-in tokens, which lives in ``<home>/secret_key``,
outside the database: without it every session and script token would stop working) and
``manifest.json`` (what was backed up, and when). A restore replaces the database's contents
in one transaction (all or nothing) and puts the key back.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import make_url

from app.embedded import find_bindir
from app.errors import InvalidInputError
from app.settings import Settings

FORMAT = "citygrid-backup-1"


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for ``url`` (no driver name), the password in the environment."""
    parsed = make_url(url)
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run(program: str, *args: str, env: dict[str, str]) -> None:
    proc = subprocess.run(
        [str(find_bindir() / program), *args], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise InvalidInputError(
            f"{program} 失败：{proc.stderr.strip()}", f"{program} failed: {proc.stderr.strip()}"
        )


def backup(url: str, settings: Settings, target: Path) -> dict:
    """Write the database at ``url`` and the signing key to the archive ``target``."""
    uri, env = _libpq(url)
    key = settings.home / "secret_key"
    manifest = {
        "format": FORMAT,
        "created_at": datetime.now(UTC).isoformat(),
        "database": make_url(url).database,
        # A key given by CITYGRID_SECRET_KEY is the deployment's to keep, not the backup's.
        "secret_key": "file" if key.exists() and not settings.secret_key else "not included",
    }
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "database.dump"
        _run("pg_dump", "--format=custom", "--no-owner", "--file", str(dump), uri, env=env)
        partial = target.with_name(target.name + ".partial")
        with tarfile.open(partial, "w") as tar:
            tar.add(dump, "database.dump")
            if manifest["secret_key"] == "file":
                tar.add(key, "secret_key")
            data = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        partial.chmod(0o600)  # it holds the signing key
        partial.replace(target)  # a half-written backup never carries the final name
    return manifest


def restore(url: str, settings: Settings, source: Path) -> dict:
    """Replace the contents of the database at ``url`` with the archive ``source`` (in one
    transaction) and put its signing key back into ``<home>``."""
    uri, env = _libpq(url)
    try:
        with tarfile.open(source) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
            if manifest.get("format") != FORMAT:
                raise KeyError("format")
            with tempfile.TemporaryDirectory() as tmp:
                tar.extract("database.dump", tmp, filter="data")
                _run(
                    "pg_restore",
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    "--exit-on-error",
                    "--dbname",
                    uri,
                    str(Path(tmp) / "database.dump"),
                    env=env,
                )
            if manifest.get("secret_key") == "file":
                key = settings.home / "secret_key"
                key.parent.mkdir(parents=True, exist_ok=True)
                key.write_bytes(tar.extractfile("secret_key").read())  # type: ignore[union-attr]
                key.chmod(0o600)
    except (tarfile.TarError, KeyError, json.JSONDecodeError, OSError) as exc:
        raise InvalidInputError(
            f"不是 CityGrid 备份文件：{source}（{exc}）",
            f"not a CityGrid backup: {source} ({exc})",
        ) from exc
    return manifest
