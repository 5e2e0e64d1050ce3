#!/bin/sh
# First start of the compose file's PostgreSQL (docker-entrypoint-initdb.d): one role and
# database for the workbench's metadata, one role with the two databases of Temporal.
# Passwords come from the docker secrets, never from the environment.
set -eu

workbench_password=$(cat /run/secrets/workbench_db_password)
temporal_password=$(cat /run/secrets/temporal_db_password)

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    --set workbench_password="$workbench_password" \
    --set temporal_password="$temporal_password" <<'SQL'
CREATE ROLE workbench LOGIN PASSWORD :'workbench_password';
CREATE DATABASE workbench OWNER workbench;
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
SQL
