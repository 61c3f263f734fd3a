"""The per-tenant, append-only audit log of who did what."""
