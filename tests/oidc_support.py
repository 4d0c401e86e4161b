"""A real OpenID Connect provider for the tests: ``tests/oidc_provider/provider.mjs``
(panva's node-oidc-provider), started on 127.0.0.1 with the clients and accounts a
test gives it. ``make test`` installs its npm packages; without Node.js or them the
tests that need it skip, or fail under ``CLERK_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from conftest import service_missing

HERE = Path(__file__).parent / "oidc_provider"


@contextlib.contextmanager
def oidc_provider(*, clients: list[dict[str, Any]],
                  accounts: dict[str, dict[str, Any]]) -> Iterator[str]:
    """Run the provider; yields its issuer URL (``http://127.0.0.1:<port>``)."""
    node = shutil.which("node")
    if node is None:
        service_missing("Node.js is not installed (the test OpenID provider needs it)")
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        service_missing("the test OpenID provider's packages are missing: "
                        "run `npm ci --prefix tests/oidc_provider` (make test does)")
    config = json.dumps({"clients": clients, "accounts": accounts})
    process = subprocess.Popen([node, str(HERE / "provider.mjs"), config], cwd=HERE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("READY "):
            service_missing(f"the test OpenID provider did not start: {line!r}")
        yield line.split()[1]
    finally:
        process.terminate()
        process.wait(10)


def consent(client: httpx.Client, authorize_url: str, redirect_uri: str,
            choice: str) -> httpx.URL:
    """Follow an authorization request through the provider as a user who picks
    ``choice`` (an account's ``sub``, or ``"deny"``); the URL it returns to."""
    response = client.get(authorize_url)
    for _ in range(10):
        location = response.headers.get("location")
        assert location, f"{response.status_code}: {response.text[:300]}"
        url = response.url.join(location)
        if str(url).startswith(redirect_uri):
            return url
        if "/interaction/" in url.path and "auto" not in url.params:
            url = url.copy_add_param("auto", choice)
        response = client.get(url)
    raise AssertionError("too many redirects")
