"""Alert intake plumbing with process state: the group committer and the rate-limit buckets.

The pure parts live elsewhere: payload parsers in `fireline.integrations.inbound`, grouping and
noise rules in `fireline.domain.alert_grouping` / `alert_rules`. Requests are parsed and checked
on the event loop (cheap, no I/O), then handed to the `GroupCommitter`, which writes every
pending request of the process in one transaction and only then completes each request, so a
2xx always means "committed".
"""
