"""Users, roles, sessions, API keys, invitations and the workspace profile of one tenant."""
