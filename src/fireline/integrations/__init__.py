"""Edges to other tools: `inbound` parsers (pure), `outbound` message builders, signing."""
