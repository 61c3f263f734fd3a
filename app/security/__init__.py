"""Security: rejected inbound requests (the webhook security console) and the keyring's secrets rotation."""
