"""The no-code automation builder: rules (trigger, condition tree, ordered actions), the engine and the run log."""
