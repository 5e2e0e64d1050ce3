#!/bin/sh
# One-shot after MinIO is healthy (the compose file's `createbuckets`): the buckets and
# the MinIO users the workbench uses instead of the root account. Safe to run again.
#   notebooks   users' notebooks (s3contents; one prefix per hub user)
#   lake        main/{bronze,silver,gold}/: the team's Delta tables; sandbox/<user>/: each
#               user's own
# Users:
#   workbench              the hub's: signs users' scoped temporary credentials (STS)
#   workbench-lake         the workers': reads and writes main/'s layers
#   workbench-lake-reader  the workbench service's: reads main/'s layers
set -eu

root_user=$(cat /run/secrets/minio_root_user)
root_password=$(cat /run/secrets/minio_root_password)
workbench_password=$(cat /run/secrets/minio_workbench_password)
lake_password=$(cat /run/secrets/minio_lake_password)
lake_reader_password=$(cat /run/secrets/minio_lake_reader_password)

mc alias set local http://minio:9000 "$root_user" "$root_password" >/dev/null
mc mb --ignore-existing local/notebooks local/lake
# Notebooks are kept with their history of versions: an overwrite can be undone.
mc version enable local/notebooks
mc admin policy create local workbench-data /workbench-policy.json
mc admin user add local workbench "$workbench_password"
mc admin policy attach local workbench-data --user workbench \
    || echo "policy workbench-data already attached to workbench"
mc admin policy create local workbench-lake-writer /lake-writer-policy.json
mc admin policy create local workbench-lake-reader /lake-reader-policy.json
mc admin user add local workbench-lake "$lake_password"
mc admin user add local workbench-lake-reader "$lake_reader_password"
mc admin policy attach local workbench-lake-writer --user workbench-lake \
    || echo "policy workbench-lake-writer already attached to workbench-lake"
mc admin policy attach local workbench-lake-reader --user workbench-lake-reader \
    || echo "policy workbench-lake-reader already attached to workbench-lake-reader"
echo "buckets notebooks and lake ready; MinIO users workbench, workbench-lake and" \
    "workbench-lake-reader may use them"
