"""The client card: identities, custom fields, tags, temperature, owner, notes, files, search, merge, import."""
