"""SLA policies and clocks: targets per queue, channel and priority; a clock per conversation and metric."""
