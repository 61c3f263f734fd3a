"""The operator's workspace: the conversation, the client and the next step on one three-pane screen."""
