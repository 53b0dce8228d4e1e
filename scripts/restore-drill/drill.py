"""The restore drill: back up a live stack the way the chart's CronJob does,
restore into a fresh Postgres the way the chart's restore Job does, and check
that the API answers the same. Run by scripts/restore-drill.sh (see there).

  1. Redis and S3 (SeaweedFS, with keys) on a Docker network; the chart's
     Postgres StatefulSet pod (TLS from the rendered Secret, pg_hba.conf from
     the rendered ConfigMap) under the Service's DNS names; the TLS checks
     (verified connections work for each name, plain text, another CA, a
     name not in the certificate and the pods of a render with another CA
     are refused); the chart's migration Job and app Deployment, run as
     rendered (pods.py).
  2. Users (with avatars and sessions) and posts through the API, then bulk
     posts with bench/seed.sql up to --posts.
  3. Snapshot: every table's row count and checksum, and API answers (post
     pages, posts, profiles, author lists, /api/me with the sessions' tokens,
     avatar bytes).
  4. The backup CronJob's pod, three times (retention keeps backup.keepLast=2).
  5. A fresh Postgres and Redis; the migration Job (an install's first step);
     the restore Job's pod (download with checksum, pg_restore --clean in one
     transaction); the app again.
  6. The same snapshot must come back, old tokens and passwords must log in.
  7. A corrupted dump in S3 must make the restore Job fail without touching
     the database; S3 access through the default credential chain works.
"""

import argparse
import hashlib
import json
import os
import secrets
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib

from pods import Manifests, Pod, PodError, docker

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RELEASE = "blog"
DB = "blog"
BUCKET = "blog-media"
PREFIX = "backups/postgres/"
KEEP_LAST = 2
PASSWORD = "drill-" + secrets.token_urlsafe(12)
# The DNS names of the Postgres Service in namespace blog, all in its certificate.
POSTGRES_NAMES = [f"{RELEASE}-postgresql", f"{RELEASE}-postgresql.blog", f"{RELEASE}-postgresql.blog.svc",
                  f"{RELEASE}-postgresql.blog.svc.cluster.local"]


def log(msg):
    print(f"restore-drill: {msg}", file=sys.stderr, flush=True)


class Failed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failed(msg)


# -- the stack ---------------------------------------------------------------


class Stack:
    def __init__(self, name, images):
        self.name = name
        self.images = images
        self.network = f"{name}-net"
        self.db_password = secrets.token_urlsafe(24)
        self.s3_key = "drill" + secrets.token_hex(6)
        self.s3_secret = secrets.token_urlsafe(30)
        self.services = []
        self.pods = []
        self.generation = 0

    def render(self, extra=None):
        """Renders the chart into self.manifests; with `extra` (more sets,
        possibly none) returns another render instead: its generated TLS
        Secret holds another CA."""
        repo, tag = self.images["app"].rsplit(":", 1)
        pg_repo, pg_tag = self.images["postgres"].rsplit(":", 1)
        sets = {
            "image.repository": repo,
            "image.tag": tag,
            "image.pullPolicy": "Never",
            "postgresql.image.repository": pg_repo,
            "postgresql.image.tag": pg_tag,
            "postgresql.image.pullPolicy": "Never",
            # The image's postgres UID (the chart's value for exactly this:
            # 70 in the official alpine image, another in the local stand-in).
            "postgresql.runAsUser": self.postgres_uid(),
            "ingress.host": "blog.drill",
            "secrets.databasePassword": self.db_password,
            "s3.endpoint": "http://s3:8333",
            "s3.bucket": BUCKET,
            "s3.credentials": "true",
            "secrets.s3AccessKey": self.s3_key,
            "secrets.s3SecretKey": self.s3_secret,
            "backup.enabled": "true",
            "backup.prefix": PREFIX,
            "backup.keepLast": str(KEEP_LAST),
            "restore.enabled": "true",
            # The drill signs up and logs in more than a person would.
            "rateLimit.registerPerIp.max": "1000",
            "rateLimit.loginPerIp.max": "1000",
            "rateLimit.loginPerAccount.max": "1000",
        }
        sets.update(extra or {})
        args = ["helm", "template", RELEASE, os.path.join(REPO, "charts/blog"), "--namespace", "blog"]
        for k, v in sets.items():
            args += ["--set-string" if k.startswith("secrets.") else "--set", f"{k}={v}"]
        out = subprocess.run(args, capture_output=True, text=True)
        if out.returncode != 0:
            raise Failed(f"helm template: {out.stderr}")
        if extra is not None:
            return Manifests(out.stdout)
        self.manifests = Manifests(out.stdout)
        return self.manifests

    def postgres_uid(self):
        if not hasattr(self, "_pg_uid"):
            run = docker("run", "--rm", "--entrypoint", "id", self.images["postgres"], "-u", "postgres")
            self._pg_uid = run.stdout.decode().strip()
        return self._pg_uid

    def up(self):
        docker("network", "create", self.network)
        self.start_s3()
        self.start_database()
        self.start_redis()

    def service(self, name, alias, image, *args, env=None, publish=None):
        cname = f"{self.name}-{name}-{self.generation}"
        cmd = ["run", "-d", "--name", cname, "--network", self.network, "--network-alias", alias]
        for k, v in (env or {}).items():
            cmd += ["-e", f"{k}={v}"]
        if publish:
            cmd += ["-p", f"127.0.0.1::{publish}"]
        docker(*cmd, image, *args)
        self.services.append(cname)
        return cname

    def start_s3(self):
        self.s3 = self.service(
            "s3", "s3", self.images["s3"],
            "mini", "-dir=/data", "-ip=127.0.0.1", "-ip.bind=0.0.0.0",
            "-master.telemetry=false", "-admin.ui=false",
            env={"AWS_ACCESS_KEY_ID": self.s3_key, "AWS_SECRET_ACCESS_KEY": self.s3_secret},
            publish=8333,
        )
        self.s3_url = "http://" + docker("port", self.s3, "8333").stdout.decode().split()[0]
        wait_for(lambda: docker("exec", self.s3, "wget", "-q", "-O", "/dev/null",
                                "http://127.0.0.1:8333/healthz", check=False).returncode == 0,
                 "S3", 120)

    def start_database(self):
        """The chart's Postgres StatefulSet pod, as rendered (its TLS Secret,
        pg_hba.conf and a fresh volume for its claim), reachable under every
        DNS name of its Service, as in a cluster."""
        self.generation += 1
        pod = Pod(self.manifests, "StatefulSet/blog-postgresql", f"{self.name}-postgres-{self.generation}",
                  self.network, image_map={"helper": self.images["postgres"]}, aliases=POSTGRES_NAMES)
        self.pods.append(pod)
        self.pg_pod = pod
        self.pg = pod.run()[0]
        # TCP, as the chart's probe does: the image's init-time server
        # listens on its socket only, so this is the final server.
        wait_for(lambda: docker("exec", self.pg, "pg_isready", "-q", "-h", "127.0.0.1",
                                check=False).returncode == 0, "Postgres", 120, on_timeout=pod.logs)

    def start_redis(self):
        self.redis = self.service("redis", f"{RELEASE}-redis", self.images["redis"])

    def sql(self, query, *psql_args, input=None):
        run = docker("exec", "-i", self.pg, "psql", "-U", DB, "-d", DB, "-v", "ON_ERROR_STOP=1", "-qAt",
                     *psql_args, "-c" if query else "-f", query or "-", input=input)
        return run.stdout.decode().strip()

    def pod(self, kind_name, tag):
        pod = Pod(self.manifests, kind_name, f"{self.name}-{tag}", self.network,
                  image_map={"helper": self.images["postgres"]})
        self.pods.append(pod)
        return pod

    def run_job(self, kind_name, tag):
        """Runs a Job's pod; returns (seconds, logs)."""
        pod = self.pod(kind_name, tag)
        started = time.monotonic()
        try:
            pod.run(log=log)
        except PodError as err:
            err.logs = pod.logs()
            raise
        else:
            return time.monotonic() - started, pod.logs()
        finally:
            pod.delete()

    def start_app(self, tag):
        pod = self.pod("Deployment/blog", tag)
        pod.run(publish={8080: "127.0.0.1:"})
        self.app_pod = pod
        container = pod.containers[0]
        self.url = "http://" + docker("port", container, "8080").stdout.decode().split()[0]
        wait_for(lambda: http("GET", self.url + "/readyz", ok=(200, 503))[0] == 200, "the app", 120,
                 on_timeout=pod.logs)

    def stop_app(self):
        self.app_pod.delete()

    def replace_database_and_cache(self):
        self.pg_pod.delete()
        docker("rm", "-f", "-v", self.redis)
        self.start_database()
        self.start_redis()

    def down(self):
        for pod in self.pods:
            pod.delete()
        for c in self.services:
            docker("rm", "-f", "-v", c, check=False)
        docker("network", "rm", self.network, check=False)


def psql_client(stack, conninfo, ca=None):
    """psql from another container on the network (the Postgres image, as
    root), with `ca` (PEM bytes) at /tmp/ca.crt; returns (exit code, output)."""
    script = 'cat > /tmp/ca.crt && exec psql "$0" -v ON_ERROR_STOP=1 -qAtc "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"'
    run = docker("run", "--rm", "-i", "--network", stack.network, "--user", "0", "-e", f"PGPASSWORD={stack.db_password}",
                 "-e", "PGCONNECT_TIMEOUT=10", "--entrypoint", "/bin/sh", stack.images["postgres"], "-c", script,
                 f"user={DB} dbname={DB} {conninfo}", input=ca or b"", check=False)
    return run.returncode, (run.stdout + run.stderr).decode(errors="replace").strip()


def check_tls(stack):
    """The bundled Postgres serves TLS with the chart's certificate and
    refuses everything else; the chart's pods verify it."""
    ca = stack.manifests.secret_data(f"{RELEASE}-postgresql-tls")["ca.crt"]
    for name in POSTGRES_NAMES:
        rc, out = psql_client(stack, f"host={name} sslmode=verify-full sslrootcert=/tmp/ca.crt", ca)
        check(rc == 0 and out == "t", f"verify-full to {name} with the chart's CA: {rc} {out}")
    rc, out = psql_client(stack, f"host={RELEASE}-postgresql sslmode=disable")
    check(rc != 0 and "no pg_hba.conf entry" in out and "no encryption" in out,
          f"a plain-text connection was not refused by pg_hba: {rc} {out}")
    # A different CA: that of another render (generated afresh).
    other = stack.render({})
    other_ca = other.secret_data(f"{RELEASE}-postgresql-tls")["ca.crt"]
    check(other_ca != ca, "two renders generated the same CA")
    rc, out = psql_client(stack, f"host={RELEASE}-postgresql sslmode=verify-full sslrootcert=/tmp/ca.crt", other_ca)
    check(rc != 0 and "certificate verify failed" in out, f"a certificate of another CA was accepted: {rc} {out}")
    # The right CA, but a name the certificate does not hold (the pod's IP).
    ip = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", stack.pg).stdout.decode().strip()
    rc, out = psql_client(stack, f"host={ip} sslmode=verify-full sslrootcert=/tmp/ca.crt", ca)
    check(rc != 0 and "does not match host name" in out, f"verify-full by IP {ip} was accepted: {rc} {out}")
    log(f"TLS: verify-full works for {', '.join(POSTGRES_NAMES)}; plain text, another CA and an IP are refused")
    # The chart's own pods: the migration Job of the render with the other
    # CA fails on the certificate, and one rendered without TLS (plain
    # text) is refused by the server.
    for manifests, tag, want in [(other, "migrate-other-ca", "invalid peer certificate"),
                                 (stack.render({"postgresql.tls.enabled": "false"}), "migrate-plain", "no encryption")]:
        pod = Pod(manifests, "Job/blog-migrate", f"{stack.name}-{tag}", stack.network,
                  image_map={"helper": stack.images["postgres"]})
        try:
            pod.run(log=lambda _: None)
            raise Failed(f"{tag}: the migration Job connected")
        except PodError:
            logs = pod.logs()
            check(want in logs, f"{tag}: failed for another reason than {want!r}: {logs[-800:]}")
        finally:
            pod.delete()
    log("TLS: the migration Job of a render with another CA, and one without TLS, are refused")


def wait_for(ready, what, seconds, on_timeout=None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.5)
    detail = f"\n{on_timeout()}" if on_timeout else ""
    raise Failed(f"{what} not ready after {seconds}s{detail}")


# -- HTTP --------------------------------------------------------------------


def http(method, url, body=None, token=None, ok=(200,), content_type="application/json"):
    data = None
    headers = {}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = content_type
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    if status not in ok:
        raise Failed(f"{method} {url} answered {status}: {raw[:300]!r}")
    return status, raw


def api(stack, method, path, body=None, token=None, ok=(200,)):
    status, raw = http(method, stack.url + path, body, token, ok)
    return status, (json.loads(raw) if raw else None)


def png(width, height, rgb):
    """A small valid PNG of one colour (the avatar pipeline decodes it)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


def upload_avatar(stack, token, image):
    boundary = "drill" + secrets.token_hex(8)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + image + f"\r\n--{boundary}--\r\n".encode()
    status, raw = http("PUT", stack.url + "/api/me/avatar", body, token,
                       content_type=f"multipart/form-data; boundary={boundary}")
    return json.loads(raw)


# -- data and snapshots --------------------------------------------------------


def seed(stack, posts_target):
    users = []
    for i in range(4):
        name = f"drill{i}"
        api(stack, "POST", "/api/users",
            {"username": name, "email": f"{name}@example.com", "password": PASSWORD}, ok=(201,))
        _, session = api(stack, "POST", "/api/sessions", {"username": name, "password": PASSWORD}, ok=(201,))
        token = session["token"]
        api(stack, "PATCH", "/api/me", {"bio": f"Bio of {name}, café ☕ and 'quotes'."}, token=token)
        if i < 3:
            upload_avatar(stack, token, png(40 + i, 30 + i, (40 * i, 100, 200 - 30 * i)))
        for j in range(5):
            api(stack, "POST", "/api/posts",
                {"title": f"Post {j} by {name}", "content": f"Written through the API.\nLine 2 of {j}: ünïcödé."},
                token=token, ok=(201,))
        users.append({"username": name, "token": token})
    # A second session of one user, logged out later: must stay revoked.
    _, extra = api(stack, "POST", "/api/sessions", {"username": "drill0", "password": PASSWORD}, ok=(201,))
    api(stack, "DELETE", "/api/sessions/current", token=extra["token"], ok=(204,))
    revoked = extra["token"]
    started = time.monotonic()
    hash_ = stack.sql("SELECT password_hash FROM users WHERE username = 'drill0'")
    with open(os.path.join(REPO, "bench/seed.sql"), "rb") as f:
        stack.sql(None, "-v", f"hash={hash_}", "-v", f"target={posts_target}", input=f.read())
    log(f"seeded {posts_target} posts with bench/seed.sql in {time.monotonic() - started:.1f}s")
    return users, revoked


TABLES_QUERY = ("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")


def database_snapshot(stack):
    """Row count and an order-independent checksum of every table's rows."""
    snap = {}
    for table in stack.sql(TABLES_QUERY).split():
        row = stack.sql(f"SELECT count(*) || ' ' || coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') "
                        f"FROM \"{table}\" t")
        count, _, digest = row.partition(" ")
        snap[table] = {"rows": int(count), "md5": digest}
    # Identity sequences continue where they were: new rows get new ids.
    snap["next_post_id"] = stack.sql("SELECT last_value FROM pg_sequences WHERE sequencename = 'posts_id_seq'")
    return snap


def strip_views(value):
    """`views` lives in Redis (counters, not in the backup): left out."""
    if isinstance(value, dict):
        return {k: strip_views(v) for k, v in value.items() if k != "views"}
    if isinstance(value, list):
        return [strip_views(v) for v in value]
    return value


def api_snapshot(stack, users, sample_ids):
    snap = {"pages": [], "posts": {}, "profiles": {}, "author_posts": {}, "me": {}, "avatars": {}}
    cursor = None
    for _ in range(3):
        _, page = api(stack, "GET", "/api/posts?limit=100" + (f"&cursor={cursor}" if cursor else ""))
        snap["pages"].append(page["items"])
        cursor = page["next_cursor"]
    for post_id in sample_ids:
        snap["posts"][post_id] = api(stack, "GET", f"/api/posts/{post_id}")[1]
    for name in [u["username"] for u in users] + ["bench1", "bench50", "bench100"]:
        _, profile = api(stack, "GET", f"/api/users/{name}")
        snap["profiles"][name] = profile
        snap["author_posts"][name] = api(stack, "GET", f"/api/users/{name}/posts?limit=20")[1]["items"]
        if profile["avatar_url"] and "/default.png" not in profile["avatar_url"]:
            path = "/" + profile["avatar_url"].split("/", 3)[3]
            snap["avatars"][name] = hashlib.sha256(http("GET", stack.url + path)[1]).hexdigest()
    for u in users:
        snap["me"][u["username"]] = api(stack, "GET", "/api/me", token=u["token"])[1]
    return strip_views(snap)


def compare(what, before, after):
    if before == after:
        return
    diffs = []
    for key in sorted(set(before) | set(after), key=str):
        if before.get(key) != after.get(key):
            diffs.append(f"{key}: before {json.dumps(before.get(key))[:300]} after {json.dumps(after.get(key))[:300]}")
    raise Failed(f"{what} differ after the restore:\n  " + "\n  ".join(diffs[:10]))


def backup_list(stack, *env):
    """`blog backup list` from the app image with the given environment."""
    args = ["run", "--rm", "--network", stack.network, "--read-only", "--user", "10001:10001",
            "-e", "BLOG_S3__ENDPOINT=http://s3:8333", "-e", f"BLOG_S3__BUCKET={BUCKET}",
            "-e", "BLOG_LOG__FILTER=warn"]
    for e in env:
        args += ["-e", e]
    run = docker(*args, stack.images["app"], "backup", "list", "--prefix", PREFIX, check=False)
    return run.returncode, run.stdout.decode().split("\n"), run.stderr.decode()


def s3_put(stack, key, data):
    """A raw S3 PUT, signed with the stack's keys (curl's SigV4; the payload
    is not part of the signature, as S3 allows)."""
    with tempfile.NamedTemporaryFile() as body:
        body.write(data)
        body.flush()
        run = subprocess.run(["curl", "-fsS", "-T", body.name, "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                              "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", f"{stack.s3_key}:{stack.s3_secret}",
                              f"{stack.s3_url}/{BUCKET}/{key}"], capture_output=True)
    check(run.returncode == 0, f"S3 PUT {key}: {run.stderr.decode()}")


# -- the drill ---------------------------------------------------------------


def drill(stack, posts):
    figures = {"posts": posts}
    stack.render()
    stack.up()
    check_tls(stack)
    stack.run_job("Job/blog-migrate", "migrate-1")
    stack.start_app("app-1")
    # The app's pooled connections (its readiness probe opened one) are TLS.
    conns = stack.sql("SELECT count(*) || ' ' || coalesce(bool_and(ssl), false) FROM pg_stat_ssl "
                      "JOIN pg_stat_activity USING (pid) WHERE application_name = 'blog'")
    check(conns.split()[0] != "0" and conns.split()[1] == "true", f"the app's connections (count, all TLS): {conns}")
    log(f"app up at {stack.url}; its {conns.split()[0]} connection(s) to Postgres are TLS")
    users, revoked = seed(stack, posts)
    sample_ids = stack.sql("SELECT id FROM posts ORDER BY md5(id::text) LIMIT 25").split()
    db_before = database_snapshot(stack)
    api_before = api_snapshot(stack, users, sample_ids)
    check(db_before["posts"]["rows"] == posts, f"seeded {db_before['posts']['rows']} posts, not {posts}")
    log("before: " + ", ".join(f"{t} {s['rows']}" for t, s in db_before.items() if isinstance(s, dict)))

    # Backups exactly as the CronJob runs them; the last one is restored.
    times = []
    for n in range(3):
        if n:
            time.sleep(1.1)  # backup names have a one-second resolution
        seconds, _ = stack.run_job("CronJob/blog-backup", f"backup-{n}")
        times.append(seconds)
    figures["backup_seconds"] = round(times[0], 2)
    figures["backup_seconds_all"] = [round(t, 2) for t in times]
    rc, listed, err = backup_list(stack, f"BLOG_S3__ACCESS_KEY={stack.s3_key}", f"BLOG_S3__SECRET_KEY={stack.s3_secret}")
    backups = [line.split() for line in listed if line.strip()]
    check(rc == 0, f"blog backup list failed: {err}")
    check(len(backups) == KEEP_LAST, f"retention: {len(backups)} backups kept, expected {KEEP_LAST}: {listed}")
    latest, size = backups[0][0], int(backups[0][2])
    figures["dump_bytes"] = size
    log(f"3 backups taken in {figures['backup_seconds_all']} s; kept {[b[0] for b in backups]}; "
        f"latest {latest}, {size} bytes")

    # Cloud identity: the default chain finds keys in the environment;
    # without it and without keys the client is anonymous and refused.
    rc, listed, err = backup_list(stack, "BLOG_S3__CREDENTIAL_SOURCE=default_chain",
                                  f"AWS_ACCESS_KEY_ID={stack.s3_key}", f"AWS_SECRET_ACCESS_KEY={stack.s3_secret}")
    check(rc == 0 and listed[0].split()[0] == latest, f"default_chain: {rc} {listed} {err}")
    rc, _, _ = backup_list(stack)
    check(rc != 0, "anonymous listing of the backups succeeded")

    # A fresh database (and cache), set up as a new install would be, then
    # the restore Job.
    stack.stop_app()
    stack.replace_database_and_cache()
    stack.run_job("Job/blog-migrate", "migrate-2")
    check(stack.sql("SELECT count(*) FROM posts") == "0", "the fresh database is not empty")
    seconds, logs = stack.run_job("Job/blog-restore", "restore-1")
    check("pg_restore: latest restored" in logs, f"restore Job output: {logs[-500:]}")
    figures["restore_seconds"] = round(seconds, 2)
    log(f"restored {latest} in {seconds:.1f}s")
    # An upgrade after the restore: migrations find the schema current.
    stack.run_job("Job/blog-migrate", "migrate-3")

    db_after = database_snapshot(stack)
    compare("database tables", db_before, db_after)
    stack.start_app("app-2")
    api_after = api_snapshot(stack, users, sample_ids)
    compare("API answers", api_before, api_after)
    for u in users:
        api(stack, "POST", "/api/sessions", {"username": u["username"], "password": PASSWORD}, ok=(201,))
    api(stack, "GET", "/api/me", token=revoked, ok=(401,))
    _, post = api(stack, "POST", "/api/posts", {"title": "After the restore", "content": "New rows get new ids."},
                  token=users[0]["token"], ok=(201,))
    check(int(post["id"]) > int(db_before["next_post_id"]), f"post id {post['id']} reuses a restored id")
    log(f"after: {db_after['posts']['rows']} posts, {db_after['users']['rows']} users, every table's checksum, "
        f"{len(sample_ids)} posts, {len(api_after['profiles'])} profiles, 3 pages, avatars and sessions equal; "
        "log-ins work, the revoked session stays revoked")

    # A corrupted backup is refused before pg_restore touches the database.
    s3_put(stack, PREFIX + latest, b"not a pg_dump archive" * 100)
    counts = stack.sql("SELECT count(*) FROM posts")
    try:
        stack.run_job("Job/blog-restore", "restore-corrupt")
        raise Failed("the restore Job accepted a corrupted dump")
    except PodError as err:
        check("checksum mismatch" in err.logs, f"the restore failed for another reason: {err.logs[-800:]}")
    check(stack.sql("SELECT count(*) FROM posts") == counts, "a failed restore changed the database")
    log("a corrupted dump is refused (checksum mismatch) and the database is untouched")
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--name", default=f"blog-drill-{os.getpid()}")
    parser.add_argument("--keep", action="store_true", help="leave the containers for inspection")
    parser.add_argument("--figures", help="write the measured times to this JSON file")
    args = parser.parse_args()
    images = {key: os.environ[var] for key, var in [
        ("app", "BLOG_TEST_APP_IMAGE"), ("postgres", "POSTGRES_IMAGE"),
        ("redis", "REDIS_IMAGE"), ("s3", "S3_IMAGE")]}
    stack = Stack(args.name, images)
    try:
        figures = drill(stack, args.posts)
    except (Failed, PodError) as err:
        log(f"FAILED: {err}")
        return 1
    finally:
        if not args.keep:
            stack.down()
    log("passed: " + json.dumps(figures))
    if args.figures:
        with open(args.figures, "w") as f:
            json.dump(figures, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
