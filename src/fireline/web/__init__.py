"""The browser interface: server-rendered pages (Jinja2) enhanced with HTMX, no build step."""
