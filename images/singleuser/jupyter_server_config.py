"""Notebooks in MinIO (S3) through s3contents, for each user's server in the team stack.

Installed as /etc/jupyter/jupyter_server_config.py in the singleuser image. Each user's
files live under ``s3://$WORKBENCH_NOTEBOOKS_BUCKET/<hub user name>/``, so a new
container (or a new host) finds them again. The endpoint and credentials come from the
standard AWS variables the hub gives the container at each spawn: ``AWS_ENDPOINT_URL_S3``
(the compose file's MinIO, ``http://minio:9000``) and temporary credentials
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``) that reach this
user's prefix only (``workbench_hub.config.ScopedS3Credentials``). Without credentials
the server keeps its files on the user's volume (``/home/jovyan/work``) and says so in
its log.
"""

import logging
import os

c = get_config()  # noqa: F821 - provided by Jupyter when it loads this file

log = logging.getLogger("workbench.notebooks")
bucket = os.environ.get("WORKBENCH_NOTEBOOKS_BUCKET", "")
access_key = os.environ.get("AWS_ACCESS_KEY_ID", "")
secret_key = os.environ.get("AWS_SECRET_ACCESS_KEY", "")

if bucket and access_key and secret_key:
    from s3contents import S3ContentsManager

    c.ServerApp.contents_manager_class = S3ContentsManager
    s3 = c.S3ContentsManager
    s3.bucket = bucket
    # One prefix per hub user; outside JupyterHub (a test, a laptop) the OS user's name.
    s3.prefix = os.environ.get("JUPYTERHUB_USER") or os.environ.get("USER") or "jovyan"
    s3.endpoint_url = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get(
        "AWS_ENDPOINT_URL", "http://minio:9000"
    )
    s3.access_key_id = access_key
    s3.secret_access_key = secret_key
    s3.session_token = os.environ.get("AWS_SESSION_TOKEN") or None
    s3.region_name = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    # MinIO serves buckets by path (http://minio:9000/<bucket>), not by host name.
    s3.s3fs_config_kwargs = {"s3": {"addressing_style": "path"}}
else:
    log.warning(
        "notebooks stay on the user's volume: set WORKBENCH_NOTEBOOKS_BUCKET, "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to keep them in MinIO"
    )
