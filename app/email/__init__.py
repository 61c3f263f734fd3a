"""Email channel: per-tenant SMTP settings, outbound mail through jobs, the inbound SMTP listener, templates."""
