#!/bin/sh
# One-shot after MinIO is healthy (the compose file's `createbuckets`): the buckets and
# the MinIO user the workbench uses instead of the root account. Safe to run again.
#   notebooks   users' notebooks (s3contents; one prefix per hub user)
#   lake        bronze/silver/gold datasets
set -eu

root_user=$(cat /run/secrets/minio_root_user)
root_password=$(cat /run/secrets/minio_root_password)
workbench_password=$(cat /run/secrets/minio_workbench_password)

mc alias set local http://minio:9000 "$root_user" "$root_password" >/dev/null
mc mb --ignore-existing local/notebooks local/lake
# Notebooks are kept with their history of versions: an overwrite can be undone.
mc version enable local/notebooks
mc admin policy create local workbench-data /workbench-policy.json
mc admin user add local workbench "$workbench_password"
mc admin policy attach local workbench-data --user workbench \
    || echo "policy workbench-data already attached to workbench"
echo "buckets notebooks and lake ready; MinIO user workbench may use them"
