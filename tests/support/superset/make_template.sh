#!/bin/sh
# The metadata DB every test session copies (tests/support/superset_peer.py): `superset db
# upgrade` and `superset init` take minutes, so they run once, at install time (.ci/run).
# Usage: make_template.sh INSTALL_DIR
set -eu
install=$1
here=$(cd "$(dirname "$0")" && pwd)
rm -f "$install/template.db.tmp"
export SUPERSET_CONFIG_PATH="$here/superset_config.py"
export WORKBENCH_SUPERSET_DB="$install/template.db.tmp"
export WORKBENCH_SUPERSET_SECRET_KEY=template-only-not-a-secret
export FLASK_APP=superset
"$install/venv/bin/superset" db upgrade
"$install/venv/bin/superset" fab create-admin --username admin --firstname Super \
  --lastname Admin --email admin@example.com --password admin-password-1
"$install/venv/bin/superset" init
mv "$install/template.db.tmp" "$install/template.db"
