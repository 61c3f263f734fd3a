"""Small shared pieces: database units of work, errors, security helpers, mail."""
