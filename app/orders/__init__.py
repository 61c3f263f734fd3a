"""Orders: items, payments and refunds, the tenant's status pipeline, revenue, and the customer portal."""
