"""Schemathesis hooks for scripts/fuzz.sh: a bearer token that survives fuzzing.

Fuzzed operations log sessions out (`DELETE /api/sessions`, `.../current`),
and may rename the account or change its password, which would leave one
static token (or one fixed login) dead for the rest of the run and silently
turn every authenticated operation into a 401. So each token comes from a
fresh account: signed up and logged in through the API when a token is first
needed, every `refresh_interval` seconds, and again after a 401.
"""

import os
import secrets

import requests
import schemathesis

BASE_URL = os.environ["BLOG_FUZZ_URL"].rstrip("/")


@schemathesis.auth(refresh_interval=120)
class FreshAccountBearer:
    def get(self, case, ctx):
        username = "fuzz" + secrets.token_hex(6)
        password = secrets.token_urlsafe(18)
        signup = requests.post(
            f"{BASE_URL}/api/users",
            json={"username": username, "email": f"{username}@example.com", "password": password},
            timeout=30,
        )
        signup.raise_for_status()
        login = requests.post(
            f"{BASE_URL}/api/sessions",
            json={"username": username, "password": password},
            timeout=30,
        )
        login.raise_for_status()
        return login.json()["token"]

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"
