"""A short story through the client openapi-python-client generated from the
served OpenAPI document (integration-tests/tests/api/python_client.rs).

Usage: client_story.py BASE_URL SCHEMA_NAMES_JSON
It fails (non-zero exit, with the reason) on the first surprise: a status the
client did not model, a field the client thinks may be missing although the
server always sends it, or a model the document does not define.
"""

import json
import sys
import uuid

import blog_api_client.models as models
from blog_api_client import AuthenticatedClient, Client
from blog_api_client.api.me import get_me
from blog_api_client.api.posts import (
    create_post,
    delete_post,
    get_post,
    list_posts,
    list_user_posts,
    update_post,
)
from blog_api_client.api.sessions import login, logout
from blog_api_client.api.users import register
from blog_api_client.types import Unset

base, schema_names = sys.argv[1], set(json.loads(sys.argv[2]))


def check(condition, message):
    if not condition:
        raise SystemExit(f"client story: {message}")


# One model per schema: nothing like `SessionUser` beside `PrivateProfile`.
generated = {name for name in dir(models) if name[:1].isupper()}
extra = generated - schema_names
# Request bodies of multipart operations get a model of their own by design.
extra = {name for name in extra if not name.endswith("Body")}
check(not extra, f"models the document does not define: {sorted(extra)}")

anonymous = Client(base_url=base, raise_on_unexpected_status=True)
name = "py" + uuid.uuid4().hex[:10]
password = "a client generated from the document"

registered = register.sync_detailed(
    client=anonymous,
    body=models.Registration(username=name, email=f"{name}@example.com", password=password),
)
check(registered.status_code == 201, f"register: {registered.status_code} {registered.content!r}")
check(isinstance(registered.parsed, models.PrivateProfile), f"register: {registered.parsed!r}")
check(registered.headers.get("Location") == f"/api/users/{name}", f"Location: {registered.headers}")

session = login.sync_detailed(
    client=anonymous, body=models.Credentials(username=name, password=password)
).parsed
check(isinstance(session, models.Session), f"log in: {session!r}")
check(isinstance(session.user, models.PrivateProfile), f"Session.user is {type(session.user)}")
check(session.user.username == name, "the session is the new user's")

me = AuthenticatedClient(base_url=base, token=session.token, raise_on_unexpected_status=True)
created = create_post.sync_detailed(
    client=me, body=models.NewPost(title="From Python", content="Generated *client*.")
)
check(created.status_code == 201, f"create: {created.status_code} {created.content!r}")
post = created.parsed
check(isinstance(post, models.Post), f"create: {post!r}")
check(not isinstance(post.views, Unset) and post.views == 0, f"views: {post.views!r}")

read = get_post.sync(client=anonymous, id=post.id)
check(isinstance(read, models.Post) and read.title == "From Python", f"get: {read!r}")
check(isinstance(read.views, int), f"views is always sent: {read.views!r}")

page = list_user_posts.sync(client=anonymous, username=name, limit=1)
check(isinstance(page, models.PostPage), f"list: {page!r}")
check(not isinstance(page.next_cursor, Unset), "next_cursor is always sent")
check([p.id for p in page.items] == [post.id], f"the author's posts: {page.items!r}")
newest = list_posts.sync(client=anonymous, limit=1)
check(isinstance(newest, models.PostPage) and newest.items, f"list: {newest!r}")

changed = update_post.sync(client=me, id=post.id, body=models.PostChanges(title="Edited from Python"))
check(isinstance(changed, models.Post) and changed.title == "Edited from Python", f"update: {changed!r}")

# Errors come back as the documented problem model, with their code.
refused = create_post.sync_detailed(client=me, body=models.NewPost(title=" ", content="x"))
check(refused.status_code == 422, f"blank title: {refused.status_code}")
check(
    json.loads(refused.content)["code"] == "validation_failed",
    f"blank title: {refused.content!r}",
)

gone = delete_post.sync_detailed(client=me, id=post.id)
check(gone.status_code == 204, f"delete: {gone.status_code}")
missing = get_post.sync_detailed(client=anonymous, id=post.id)
check(missing.status_code == 404, f"deleted post: {missing.status_code}")

check(logout.sync_detailed(client=me).status_code == 204, "log out")
after = get_me.sync_detailed(client=me)
check(after.status_code == 401, f"a revoked token: {after.status_code}")
check("invalid_token" in after.headers.get("WWW-Authenticate", ""), f"{after.headers}")
print("client story: ok")
