"""Switchboard: a multi-tenant contact-center CRM."""

import os

# Piccolo looks its engine up from this module when table classes are created.
os.environ.setdefault("PICCOLO_CONF", "app.piccolo_conf")
