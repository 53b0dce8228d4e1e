"""Makes the import tests' fixture with the real Django original.

Run with the venv of setup.sh, from anywhere:
    python make_fixture.py OUT_DIR
Environment: DJANGO_DB_HOST/PORT/NAME/USER/PASSWORD (an empty Postgres
database; the original's tables are created in it and stay, so the same
data can be imported live), optional FIXTURE_BULK_POSTS=N (N more posts,
for the benchmark).

Writes to OUT_DIR: media/ (MEDIA_ROOT with profile_pics/), dump.json
(`manage.py dumpdata auth.user users.profile blog.post`), dump.json.gz, and
manifest.json (the plain passwords and what each account should become,
which a dump cannot tell).
"""
import datetime
import gzip
import io
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "original"))
out = os.path.abspath(sys.argv[1])
os.makedirs(out, exist_ok=True)
os.environ["DJANGO_MEDIA_ROOT"] = os.path.join(out, "media")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "original.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.files.base import ContentFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from PIL import Image  # noqa: E402

from blog.models import Post  # noqa: E402
from users.models import Profile  # noqa: E402

UTC = datetime.timezone.utc
call_command("migrate", verbosity=0)


def picture(fmt, size, colour):
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format=fmt)
    return buf.getvalue()


# username, password, flags, date_joined, last_login, picture
people = [
    ("alice", "alice-django-pw-1", dict(is_staff=True), datetime.datetime(2019, 3, 4, 5, 6, 7, 123000, tzinfo=UTC),
     datetime.datetime(2023, 1, 2, 3, 4, 5, tzinfo=UTC), ("JPEG", (640, 480), (200, 30, 30))),
    ("bob", "bob-django-pw-2", {}, datetime.datetime(2020, 6, 7, 8, 9, 10, tzinfo=UTC), None, None),
    ("carol", "carol-django-pw-3", dict(is_active=False), datetime.datetime(2020, 7, 1, 0, 0, 0, tzinfo=UTC),
     None, ("PNG", (120, 90), (30, 200, 30))),
    ("dave", "dave-django-pw-4", dict(is_superuser=True, is_staff=True), datetime.datetime(2021, 1, 1, 12, 0, 0, tzinfo=UTC),
     None, ("JPEG", (50, 50), (0, 0, 200))),
    ("erin", "erin-django-pw-5", {}, datetime.datetime(2021, 2, 2, 2, 2, 2, tzinfo=UTC), None, "broken"),
]
manifest = {"users": {}, "missing_picture": "dave", "broken_picture": "erin"}
for name, password, flags, joined, last_login, pic in people:
    user = User(username=name, email=f"{name}@example.com", date_joined=joined, last_login=last_login, **flags)
    user.set_password(password)
    user.save()
    # The original made profiles in a post_save signal; here explicitly.
    profile = Profile.objects.create(user=user)
    if pic == "broken":
        profile.image.save(f"{name}.jpg", ContentFile(b"this is not a picture at all"), save=True)
    elif pic is not None:
        fmt, size, colour = pic
        ext = "jpg" if fmt == "JPEG" else "png"
        profile.image.save(f"{name}.{ext}", ContentFile(picture(fmt, size, colour)), save=True)
    manifest["users"][name] = {
        "password": password,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "image": profile.image.name,
    }
# dave's file is lost on the original's disk: the import must say so.
os.remove(os.path.join(os.environ["DJANGO_MEDIA_ROOT"], Profile.objects.get(user__username="dave").image.name))

alice, bob = User.objects.get(username="alice"), User.objects.get(username="bob")
posts = [
    (alice, "Hello from Django", "First post.\n\nPlain text, two paragraphs.", datetime.datetime(2019, 4, 1, 9, 0, 0, tzinfo=UTC)),
    (bob, "Unicode: café – 日本語 ✓", "Content with <b>markup-looking</b> text & entities, kept as written.  \n  Indented.",
     datetime.datetime(2020, 6, 8, 10, 30, 0, 456000, tzinfo=UTC)),
    (alice, "T" * 100, "A title of exactly one hundred characters.", datetime.datetime(2021, 5, 5, 5, 5, 5, tzinfo=UTC)),
    (bob, "Bob's second", "More.", datetime.datetime(2022, 12, 31, 23, 59, 59, tzinfo=UTC)),
    (User.objects.get(username="carol"), "By an inactive author", "Still a post.", datetime.datetime(2020, 7, 2, 0, 0, 0, tzinfo=UTC)),
]
for author, title, content, when in posts:
    Post.objects.create(author=author, title=title, content=content, date_posted=when)

bulk = int(os.environ.get("FIXTURE_BULK_POSTS", "0"))
if bulk:
    authors = list(User.objects.all())
    start = datetime.datetime(2015, 1, 1, tzinfo=UTC)
    batch = []
    for i in range(bulk):
        batch.append(Post(author=authors[i % len(authors)], title=f"Bulk post {i}",
                          content=f"Body of bulk post {i}.\n" * 5, date_posted=start + datetime.timedelta(minutes=i)))
        if len(batch) == 5000:
            Post.objects.bulk_create(batch)
            batch = []
    Post.objects.bulk_create(batch)

dump = os.path.join(out, "dump.json")
call_command("dumpdata", "auth.user", "users.profile", "blog.post", output=dump, indent=2, verbosity=0)
with open(dump, "rb") as src, gzip.open(dump + ".gz", "wb") as dst:
    shutil.copyfileobj(src, dst)
with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=2)
print(out)
