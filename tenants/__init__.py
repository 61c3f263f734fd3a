"""Platform level: the tenant registry, signup, schema provisioning, per-request routing, migrations."""

import app  # noqa: F401  (sets PICCOLO_CONF before any table is defined)
