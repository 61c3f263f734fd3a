"""The live wallboard: per queue waiting, longest wait, agents by state, service level and abandons today, pushed
over the hub to supervisors' screens and to wall TVs signed in with a wallboard-only token."""
