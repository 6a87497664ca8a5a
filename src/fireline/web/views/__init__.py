"""Page handlers by area; each turns a request into use-case calls and a rendered template."""
