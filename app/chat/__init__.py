"""Web chat: the widget a shop puts on its own site, the visitor's public API and socket, the operator's side."""
