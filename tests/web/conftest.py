"""Web UI fixtures: a signed-in TestClient and Chromium launched from /usr/bin/chromium."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import Person

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Use Debian's Chromium (no downloads) with flags that work in a container."""
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


def csrf_of(html: str) -> str:
    """The session CSRF token from a rendered page's hidden field."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "page has no CSRF field"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str, *, next_: str = "/incidents") -> Any:
    """Submit the login form as a browser would; returns the response (not followed)."""
    form = client.get("/login")
    return client.post(
        "/login",
        data={
            "email": email,
            "password": password,
            "csrf_token": csrf_of(form.text),
            "next": next_,
        },
        follow_redirects=False,
    )


@pytest.fixture
def signed_in(client: TestClient) -> Callable[[Person], str]:
    """Sign `person` in on the shared client and return the session's CSRF token."""

    def login(person: Person) -> str:
        client.cookies.clear()
        response = sign_in(client, person.email, person.password)
        assert response.status_code == 303, response.text
        return csrf_of(client.get("/incidents").text)

    return login
