"""Outbound notifications: pure message builders (`messages`, `ical`) and, later, the senders.

Only the worker sends; use cases only build payloads and write them to the outbox.
"""
