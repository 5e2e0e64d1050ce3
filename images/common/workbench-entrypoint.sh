#!/bin/sh
# Entrypoint of the hub and worker images: turns docker secrets into what the workbench
# reads, then runs the command.
#   /run/secrets/workbench_secrets_key   → WORKBENCH_SECRETS_KEY_FILE (a private 0600 copy,
#                                          whatever the mode of the file on the host)
#   /run/secrets/workbench_db_password   → WORKBENCH_DB_URL for the compose file's
#                                          PostgreSQL, unless WORKBENCH_DB_URL is set
set -eu

secrets=/run/secrets
private=/run/workbench
mkdir -p "$private"
chmod 700 "$private"

if [ -z "${WORKBENCH_SECRETS_KEY_FILE:-}" ] && [ -f "$secrets/workbench_secrets_key" ]; then
    install -m 600 "$secrets/workbench_secrets_key" "$private/secrets.key"
    export WORKBENCH_SECRETS_KEY_FILE="$private/secrets.key"
fi

if [ -z "${WORKBENCH_DB_URL:-}" ] && [ -f "$secrets/workbench_db_password" ]; then
    # The password is URL-quoted: any characters may be used in the secret.
    WORKBENCH_DB_URL=$(python3 -c '
import sys, urllib.parse
password = open(sys.argv[1]).read().strip()
print("postgresql://workbench:" + urllib.parse.quote(password, safe="") + "@postgres:5432/workbench")
' "$secrets/workbench_db_password")
    export WORKBENCH_DB_URL
fi

exec "$@"
