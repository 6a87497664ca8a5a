"""Alert intake pipeline: normalised signals, routing, rate limits and group commit.

Requests are parsed and checked on the event loop (cheap, no I/O), then handed to a
`GroupCommitter` that writes every pending request of the process in one transaction and
only then completes each request, so a 2xx always means "committed".
"""
