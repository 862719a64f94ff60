#!/usr/bin/env bash
# Install what CityGrid needs and is missing: PostgreSQL 15 + PostGIS 3 (Debian packages;
# only as root, otherwise print the apt-get line and stop), a virtual environment and the
# pinned Python dependencies. Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

PG_PACKAGES="postgresql-15 postgresql-15-postgis-3"
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

need_pg() {
    # With DATABASE_URL an external server is used; the local server is not needed.
    [ -z "${DATABASE_URL:-}" ] || return 1
    ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || return 0
    ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || return 0
    return 1
}

apt_install() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "CityGrid needs system packages that are missing. Install them with:" >&2
        echo "  sudo apt-get update && sudo apt-get install -y $*" >&2
        exit 1
    fi
    echo "==> apt-get install $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if need_pg; then
    apt_install $PG_PACKAGES
fi

# The browser tests of the maps need Chromium; `make test` asks for it (WITH_BROWSER=1).
if [ "${WITH_BROWSER:-0}" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        apt_install chromium fonts-noto-cjk
    else
        echo "note: the map browser tests skip without Chromium (sudo apt-get install -y chromium)" >&2
    fi
fi

if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv --help >/dev/null 2>&1 || ! "$PYTHON" -c "import ensurepip" 2>/dev/null; then
        apt_install python3-venv
    fi
    echo "==> creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi

stamp="$VENV/.citygrid-installed"
if [ ! -f "$stamp" ] || [ requirements.lock -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "==> installing Python dependencies (requirements.lock)"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -r requirements.lock
    "$VENV/bin/python" -m pip install -q --no-deps -e .
    touch "$stamp"
fi
