"""A client's data on request (export, erasure, legal hold), the log of those requests, and retention."""
