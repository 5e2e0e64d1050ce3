#!/bin/sh
# Entrypoint of the hub, service and worker images: turns docker secrets into what the
# workbench reads, then runs the command as the container's account, whose tmpfs
# /run/workbench is (docker-compose.yml): workbench-service in the service, root with
# four capabilities in the workers, whose steps run as workbench-step and can enter
# neither /run/workbench nor read the worker's environment.
#   /run/secrets/workbench_secrets_key   → WORKBENCH_SECRETS_KEY_FILE (a private 0600 copy,
#                                          whatever the mode of the file on the host)
#   /run/secrets/workbench_db_password   → WORKBENCH_DB_URL for the compose file's
#                                          PostgreSQL, unless WORKBENCH_DB_URL is set
#   /run/secrets/jupyterhub_api_token    → JUPYTERHUB_API_TOKEN (the workbench service's
#                                          token at the hub), unless it is set
#   /run/secrets/workbench_metrics_token → WORKBENCH_METRICS_TOKEN_FILE (a private 0600
#                                          copy: the scrape token of /metrics)
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

if [ -z "${JUPYTERHUB_API_TOKEN:-}" ] && [ -f "$secrets/jupyterhub_api_token" ]; then
    JUPYTERHUB_API_TOKEN=$(tr -d '[:space:]' < "$secrets/jupyterhub_api_token")
    export JUPYTERHUB_API_TOKEN
fi

if [ -z "${WORKBENCH_METRICS_TOKEN_FILE:-}" ] && [ -f "$secrets/workbench_metrics_token" ]; then
    install -m 600 "$secrets/workbench_metrics_token" "$private/metrics-token"
    export WORKBENCH_METRICS_TOKEN_FILE="$private/metrics-token"
fi

exec "$@"
