"""Reports: facts written from the event spine, 15-minute rollups, the report kit and the reports built on it."""
