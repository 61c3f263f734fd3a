"""Agents: presence from behaviour (state machine with kept intervals), capacity per channel and free room."""
