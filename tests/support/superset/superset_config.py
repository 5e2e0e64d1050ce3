"""Superset's configuration for the tests' own Superset (tests/support/superset_peer.py).

Read by Superset through SUPERSET_CONFIG_PATH; the metadata DB and secret key come from
the environment the fixture sets (a copy of the template made by tests/support/superset/
make_template.sh at install time).
"""

import os

SECRET_KEY = os.environ["WORKBENCH_SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.environ["WORKBENCH_SUPERSET_DB"]
# A DuckDB file is a path on this machine: Superset refuses such URIs by default.
PREVENT_UNSAFE_DB_CONNECTIONS = False
TALISMAN_ENABLED = False
WTF_CSRF_ENABLED = True
FEATURE_FLAGS = {"ENABLE_TEMPLATE_PROCESSING": False}
# No cache server here: results are not cached, so a chart reads what is published now.
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
# The users API (list users for owners) and no rate limit on logins in tests.
FAB_ADD_SECURITY_API = True
RATELIMIT_ENABLED = False
AUTH_RATE_LIMITED = False
SUPERSET_WEBSERVER_TIMEOUT = 60
