#!/usr/bin/python3
"""SMTP catcher for the local stack (stand-in for Mailpit when no image can be pulled).

SMTP on :1025 accepts every message (no auth, no relay). Messages are kept in
memory and written to /data as .eml files. HTTP on :8025 serves, like Mailpit:

  GET    /                          HTML list of messages (newest first)
  GET    /api/v1/messages           {"total", "messages_count", "start", "messages":
                                     [{ID, From, To, Subject, Created, Snippet}]},
                                    newest first, `start` and `limit` (default 50)
  GET    /api/v1/search?query=to:A  the same for the messages to an address containing A
                                    (case-insensitive; the only filter of Mailpit's
                                    search syntax this stand-in knows: others are a 400)
  GET    /api/v1/message/<ID>       {ID, From, To, Subject, Date, Text, HTML}
  GET    /api/v1/message/<ID>/raw   the message as received
  DELETE /api/v1/messages           empties the inbox
  GET    /livez, /readyz            200
"""

import email
import email.policy
import html
import json
import os
import shlex
import threading
import uuid
from datetime import datetime, timezone
from email.utils import getaddresses, parseaddr
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller

DATA_DIR = os.environ.get("MAILCATCHER_DIR", "/data")
SMTP_PORT = int(os.environ.get("MAILCATCHER_SMTP_PORT", "1025"))
HTTP_PORT = int(os.environ.get("MAILCATCHER_HTTP_PORT", "8025"))
# Bounded so a runaway sender cannot exhaust memory in a long-lived dev stack.
MAX_MESSAGES = int(os.environ.get("MAILCATCHER_MAX_MESSAGES", "500"))

_lock = threading.Lock()
_messages = []  # newest last


def _address(name_addr):
    name, addr = name_addr
    return {"Name": name, "Address": addr}


def _bodies(msg):
    text, body_html = "", ""
    for part in msg.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        ctype = part.get_content_type()
        if ctype == "text/plain" and not text:
            text = part.get_content()
        elif ctype == "text/html" and not body_html:
            body_html = part.get_content()
    return text, body_html


def _store(raw: bytes):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text, body_html = _bodies(msg)
    entry = {
        "ID": uuid.uuid4().hex,
        "From": _address(parseaddr(str(msg.get("From", "")))),
        "To": [_address(a) for a in getaddresses([str(v) for v in msg.get_all("To", [])])],
        "Subject": str(msg.get("Subject", "")),
        "Date": str(msg.get("Date", "")),
        "Created": datetime.now(timezone.utc).isoformat(),
        "Text": text,
        "HTML": body_html,
        "Snippet": " ".join(text.split())[:200],
        "raw": raw,
    }
    try:
        with open(os.path.join(DATA_DIR, entry["ID"] + ".eml"), "wb") as f:
            f.write(raw)
    except OSError as err:  # a read-only /data must not lose the message
        print(f"mailcatcher: could not save message: {err}", flush=True)
    with _lock:
        _messages.append(entry)
        del _messages[:-MAX_MESSAGES]
    print(f"mailcatcher: received {entry['Subject']!r} for {entry['To']}", flush=True)


class SmtpHandler:
    async def handle_DATA(self, server, session, envelope):
        _store(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def _summary(m):
    return {k: m[k] for k in ("ID", "From", "To", "Subject", "Created", "Snippet")}


def _recipient_filter(query):
    """Mailpit's `to:ADDRESS` search terms (all must match), else a ValueError."""
    wanted = []
    for term in shlex.split(query):
        field, sep, value = term.partition(":")
        if not sep or field.lower() != "to" or not value:
            raise ValueError(f"unsupported search term {term!r}: only to:ADDRESS is implemented")
        wanted.append(value.lower())
    if not wanted:
        raise ValueError("no search query")
    return lambda m: all(any(w in t["Address"].lower() for t in m["To"]) for w in wanted)


def _page(params, keep):
    """Newest first, paginated like Mailpit (`start`, `limit` default 50)."""
    start = max(int(params.get("start", ["0"])[0]), 0)
    limit = max(int(params.get("limit", ["50"])[0]), 0) or 50
    with _lock:
        matching = [_summary(m) for m in reversed(_messages) if keep(m)]
        total = len(_messages)
    return {
        "total": total,
        "messages_count": len(matching),
        "start": start,
        "messages": matching[start : start + limit],
    }


class Http(BaseHTTPRequestHandler):
    server_version = "mailcatcher"

    def _send(self, status, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status, value):
        self._send(status, json.dumps(value))

    def _find(self, msg_id):
        with _lock:
            return next((m for m in _messages if m["ID"] == msg_id), None)

    def do_GET(self):
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        params = parse_qs(url.query)
        if path in ("/livez", "/readyz"):
            return self._send(200, "ok", "text/plain")
        try:
            if path == "/api/v1/messages":
                return self._json(200, _page(params, lambda m: True))
            if path == "/api/v1/search":
                keep = _recipient_filter(params.get("query", [""])[0])
                return self._json(200, _page(params, keep))
        except ValueError as err:
            return self._send(400, str(err), "text/plain")
        if path.startswith("/api/v1/message/"):
            rest = path[len("/api/v1/message/"):]
            msg_id, _, raw = rest.partition("/")
            m = self._find(msg_id)
            if m is None:
                return self._json(404, {"error": "message not found"})
            if raw == "raw":
                return self._send(200, m["raw"], "message/rfc822")
            return self._json(200, {k: v for k, v in m.items() if k != "raw"})
        if path == "/":
            with _lock:
                rows = "".join(
                    f"<tr><td>{html.escape(m['Created'])}</td>"
                    f"<td>{html.escape(', '.join(t['Address'] for t in m['To']))}</td>"
                    f"<td><a href='/api/v1/message/{m['ID']}'>{html.escape(m['Subject'])}</a></td></tr>"
                    for m in reversed(_messages)
                )
            page = (
                "<!doctype html><title>Inbox</title><h1>Inbox</h1>"
                "<table><tr><th>Received</th><th>To</th><th>Subject</th></tr>"
                f"{rows}</table>"
            )
            return self._send(200, page, "text/html; charset=utf-8")
        return self._json(404, {"error": "not found"})

    def do_DELETE(self):
        if self.path.rstrip("/") == "/api/v1/messages":
            with _lock:
                _messages.clear()
            return self._send(200, "ok", "text/plain")
        return self._json(404, {"error": "not found"})

    def log_message(self, fmt, *args):  # health checks would flood the log
        pass


def main():
    smtp = Controller(SmtpHandler(), hostname="0.0.0.0", port=SMTP_PORT)
    smtp.start()
    print(f"mailcatcher: SMTP on :{SMTP_PORT}, inbox on http://0.0.0.0:{HTTP_PORT}/", flush=True)
    http = ThreadingHTTPServer(("0.0.0.0", HTTP_PORT), Http)
    try:
        http.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        smtp.stop()


def _on_sigterm(*_):
    # docker stop sends SIGTERM: leave serve_forever and stop SMTP cleanly
    # instead of being killed after the grace period.
    raise KeyboardInterrupt


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, _on_sigterm)
    main()
