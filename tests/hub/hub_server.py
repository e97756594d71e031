#!/usr/bin/env python3
"""A stand-in for the Hugging Face Hub's resolve URLs, served from a directory,
with a CDN on another host and the faults a hostile or broken server has.

    hub_server.py ROOT

ROOT/repos/ORG/NAME/ holds a repository:
    refs/REV            the commit a branch or tag names
    COMMIT/FILE         the file at that commit
    token               (gated) the token it wants as "Authorization: Bearer"
    renamed             (renamed) the id it moved to: a relative 307 there
    fault               one of stall (half the body, then silence), drop (no
                        answer), truncated (half the body, then closed),
                        oversized (17 MiB), bad-etag, loop (redirects to itself)

GET /ORG/NAME/resolve/REV/FILE answers as the Hub does: X-Repo-Commit,
ETag (the git blob id) for a small file; for a file of a commit holding
FILE.lfs, 302 to the CDN with X-Linked-Etag (its SHA-256). A missing
repository is 401 RepoNotFound without a token (the Hub does not say
whether a private one exists), 404 with one; a missing revision 404
RevisionNotFound; a missing file 404 EntryNotFound.

Written when listening: ROOT/hub.env (FM_TEST_HUB_PORT, FM_TEST_CDN_PORT).
Every request goes to ROOT/requests.log as "SERVER METHOD PATH AUTH" where
AUTH is the Authorization header verbatim or "-": the test greps it.
"""
import hashlib
import http.server
import os
import re
import sys
import threading
import time
import urllib.parse

ROOT = sys.argv[1]
REPOS = os.path.join(ROOT, "repos")
LOCK = threading.Lock()


def log(server, handler):
    with LOCK, open(os.path.join(ROOT, "requests.log"), "a") as f:
        f.write("%s %s %s %s\n" % (server, handler.command, handler.path, handler.headers.get("Authorization", "-")))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def git_blob_id(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Hub(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cdn_port = 0

    def log_message(self, *args):
        pass

    def answer(self, status, headers=(), body=b""):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code, commit=None):
        headers = [("X-Error-Code", code)] + ([("X-Repo-Commit", commit)] if commit else [])
        self.answer(status, headers, b'{"error": "%s"}' % code.encode())

    def do_GET(self):
        log("hub", self)
        m = re.fullmatch(r"/([^/]+)/([^/]+)/resolve/([^/]+)/(.+)", urllib.parse.urlsplit(self.path).path)
        if not m:
            return self.answer(400, body=b"not a resolve URL")
        org, name, revision, filename = (urllib.parse.unquote(g) for g in m.groups())
        repo = os.path.join(REPOS, org, name)
        auth = self.headers.get("Authorization")
        if not os.path.isdir(repo):
            return self.error(404 if auth else 401, "RepoNotFound")
        if os.path.exists(os.path.join(repo, "renamed")):
            target = read(os.path.join(repo, "renamed")).decode().strip()
            rest = self.path.split("/resolve/", 1)[1]
            return self.answer(307, [("Location", "/%s/resolve/%s" % (target, rest))])
        if os.path.exists(os.path.join(repo, "token")):
            wanted = "Bearer " + read(os.path.join(repo, "token")).decode().strip()
            if auth is None:
                return self.error(401, "GatedRepo")
            if auth != wanted:
                return self.error(403, "GatedRepo")
        commit = revision
        if not os.path.isdir(os.path.join(repo, commit)):
            ref = os.path.join(repo, "refs", revision)
            if not os.path.isfile(ref):
                return self.error(404, "RevisionNotFound")
            commit = read(ref).decode().strip()
        path = os.path.join(repo, commit, filename)
        if not os.path.isfile(path):
            return self.error(404, "EntryNotFound", commit)
        fault = read(os.path.join(repo, "fault")).decode().strip() if os.path.exists(os.path.join(repo, "fault")) else ""
        self.serve(commit, path, read(path), fault)

    def serve(self, commit, path, data, fault):
        headers = [("X-Repo-Commit", commit)]
        if fault == "loop":
            return self.answer(302, headers + [("Location", self.path)])
        if os.path.exists(path + ".lfs"):
            digest = hashlib.sha256(data).hexdigest()
            location = "http://localhost:%d/blobs/%s?path=%s" % (Hub.cdn_port, digest, urllib.parse.quote(path))
            return self.answer(302, headers + [("X-Linked-Etag", '"%s"' % digest), ("ETag", '"%s"' % git_blob_id(b"ptr")),
                                               ("Location", location)])
        # A hostile server echoes the token where a message may quote it.
        etag = "../../escape" + self.headers.get("Authorization", "") if fault == "bad-etag" else git_blob_id(data)
        headers.append(("ETag", '"%s"' % etag))
        if fault == "oversized":
            data = data + b" " * (17 << 20)
        if fault == "drop":
            self.close_connection = True
            return
        if fault in ("stall", "truncated"):
            self.send_response(200)
            for n, v in headers:
                self.send_header(n, v)
            self.send_header("Content-Length", str(len(data) + 1000))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            if fault == "stall":
                time.sleep(30)
            self.close_connection = True
            return
        self.answer(200, headers, data)


class Cdn(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        log("cdn", self)
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        data = read(query["path"][0])
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    hub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    cdn = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Cdn)
    hub.daemon_threads = cdn.daemon_threads = True
    Hub.cdn_port = cdn.server_address[1]
    threading.Thread(target=cdn.serve_forever, daemon=True).start()
    env = os.path.join(ROOT, "hub.env")
    with open(env + ".tmp", "w") as f:
        f.write("FM_TEST_HUB_PORT=%d\nFM_TEST_CDN_PORT=%d\n" % (hub.server_address[1], Hub.cdn_port))
    os.rename(env + ".tmp", env)
    hub.serve_forever()


if __name__ == "__main__":
    main()
