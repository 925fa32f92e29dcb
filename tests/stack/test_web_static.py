"""test_web_static.py - the web client's static files and /config.json
(edge/http/routes_static.c, docs/web.md).

One stack: nats, auth and edge-http whose http.web_root is a folder made
here, holding a few files, a hidden file, a file of an unknown type, and
symlinks that lead out of it (to a file and to a folder).  Every way out
of the root must be 404, the files must come with their type, cache and
security headers, and only GET and HEAD are allowed.  A second class
serves the real web/ folder and checks that every module the page
imports is served as JavaScript.
"""

import os
import re
import signal
import socket

from harness import ROOT, StackTestCase, http_request

INDEX = b"<!doctype html><title>t</title><script type=module src=js/app.js></script>"
APP = b"export const x = 1;\n"
SECRET = b"outside the root\n"


def raw_get(url, target):
    """Send one request line exactly as given (no client-side cleaning)."""
    host, port = url[len("http://"):].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % target).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head:
        return 0, body    # closed without an answer: refused too
    return int(head.split(b" ")[1]), body


class StaticTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        st = cls.stack
        cls.root = os.path.join(st.tmp, "web")
        outside = os.path.join(st.tmp, "outside")
        os.makedirs(os.path.join(cls.root, "js"))
        os.makedirs(outside)
        files = {"index.html": INDEX, "js/app.js": APP, "css/a.css": b"body{}",
                 ".hidden.js": b"x", "notes.md": b"# not served", "js/deep/x.exe": b"MZ"}
        for name, data in files.items():
            path = os.path.join(cls.root, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        with open(os.path.join(outside, "secret.js"), "wb") as f:
            f.write(SECRET)
        os.symlink(os.path.join(outside, "secret.js"), os.path.join(cls.root, "link.js"))
        os.symlink(outside, os.path.join(cls.root, "out"))
        os.symlink("app.js", os.path.join(cls.root, "js", "alias.js"))  # inside: fine
        st.start_role("auth")
        cls.http = st.start_role("edge-http", {"NATTER_HTTP_WEB_ROOT": cls.root,
                                               "NATTER_WS_PORT": "18099"})

    def get(self, path, method="GET", headers=None):
        return http_request(self.http.url, method, path, headers=headers)

    def test_index_and_assets(self):
        for path in ("/", "/index.html"):
            status, h, body = self.get(path)
            self.assertEqual(status, 200, path)
            self.assertEqual(body, INDEX)
            self.assertEqual(h["content-type"], "text/html; charset=utf-8")
            self.assertEqual(h["cache-control"], "no-cache")
            self.assertEqual(h["x-content-type-options"], "nosniff")
            self.assertIn("etag", h)
        status, h, body = self.get("/js/app.js")
        self.assertEqual((status, body), (200, APP))
        self.assertEqual(h["content-type"], "text/javascript; charset=utf-8")
        self.assertEqual(h["cache-control"], "max-age=60")
        self.assertEqual(self.get("/css/a.css")[1]["content-type"], "text/css; charset=utf-8")
        self.assertEqual(self.get("/js/alias.js")[2], APP)  # a symlink inside the root

    def test_csp_allows_only_self_and_the_ws_edge(self):
        _, h, _ = self.get("/")
        csp = h["content-security-policy"]
        for part in ("default-src 'none'", "script-src 'self'", "style-src 'self'",
                     "img-src 'self' blob:", "connect-src 'self' ws://127.0.0.1:18099",
                     "frame-ancestors 'none'", "base-uri 'none'"):
            self.assertIn(part, csp)
        self.assertNotIn("unsafe", csp)
        # A Host header that is not a plain name adds nothing to connect-src.
        _, h, _ = self.get("/", headers={"Host": "evil.example; script-src *"})
        self.assertIn("connect-src 'self';", h["content-security-policy"])
        self.assertNotIn("evil", h["content-security-policy"])

    def test_config_json_names_the_ws_edge(self):
        status, h, body = self.get("/config.json")
        self.assertEqual(status, 200)
        self.assertEqual(body, b'{"ws_url":"ws://127.0.0.1:18099/ws"}')
        _, _, body = self.get("/config.json", headers={"Host": "localhost:8080"})
        self.assertEqual(body, b'{"ws_url":"ws://localhost:18099/ws"}')
        _, _, body = self.get("/config.json", headers={"Host": "bad host\"x"})
        self.assertEqual(body, b'{"ws_url":null}')

    def test_configured_ws_url(self):
        edge = self.stack.start_role("edge-http", {
            "NATTER_HTTP_WEB_ROOT": self.root, "NATTER_HTTP_WS_URL": "wss://chat.example.com/ws"})
        try:
            _, _, body = http_request(edge.url, "GET", "/config.json")
            self.assertEqual(body, b'{"ws_url":"wss://chat.example.com/ws"}')
            _, h, _ = http_request(edge.url, "GET", "/")
            self.assertIn("connect-src 'self' wss://chat.example.com;", h["content-security-policy"])
        finally:
            edge.kill(signal.SIGTERM)
            self.assertEqual(edge.wait(10), 0)

    def test_no_web_root(self):
        edge = self.stack.start_role("edge-http", {"NATTER_HTTP_WEB_ROOT": ""})
        try:
            for path in ("/", "/index.html", "/config.json"):
                self.assertEqual(http_request(edge.url, "GET", path)[0], 404, path)
        finally:
            edge.kill(signal.SIGTERM)
            self.assertEqual(edge.wait(10), 0)

    def test_etag_revalidation(self):
        _, h, _ = self.get("/js/app.js")
        status, h2, body = self.get("/js/app.js", headers={"If-None-Match": h["etag"]})
        self.assertEqual((status, body), (304, b""))
        self.assertEqual(h2["etag"], h["etag"])
        self.assertEqual(self.get("/js/app.js", headers={"If-None-Match": '"other"'})[0], 200)

    def test_head(self):
        status, h, body = self.get("/js/app.js", "HEAD")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(h["content-length"], str(len(APP)))

    def test_only_get_and_head(self):
        for method in ("POST", "PUT", "DELETE"):
            status, h, _ = self.get("/index.html", method)
            self.assertEqual(status, 405, method)
            self.assertEqual(h["allow"], "GET, HEAD")

    def test_api_paths_are_not_files(self):
        status, _, body = self.get("/api/nope")
        self.assertEqual(status, 404)
        self.assertIn(b"no such route", body)
        self.assertEqual(self.get("/api/nope", "POST")[0], 404)

    def test_traversal_is_404(self):
        for target in ("/../outside/secret.js", "/js/../../outside/secret.js",
                       "/%2e%2e/outside/secret.js", "/js/%2E%2E/%2e%2e/outside/secret.js",
                       "/.%2e/outside/secret.js", "/js/..%2f..%2foutside/secret.js",
                       "/js/%2e%2e%5c..%5coutside%5csecret.js", "/js/..\\..\\outside\\secret.js",
                       "//etc/passwd", "/%2fetc/passwd", "/etc/passwd",
                       "/./index.html", "/js/./app.js", "/js//app.js", "/js/"):
            status, body = raw_get(self.http.url, target)
            self.assertEqual(status, 404, target)
            self.assertNotIn(SECRET, body, target)
            self.assertNotIn(b"root:", body, target)

    def test_nul_ends_the_name(self):
        # civetweb decodes %00 before we see the path, so the name ends
        # there: the file served is the one before it, with its own type.
        status, h, body = self.get("/index.html%00.js")
        self.assertEqual((status, body), (200, INDEX))
        self.assertEqual(h["content-type"], "text/html; charset=utf-8")
        status, body = raw_get(self.http.url, "/js/app.js%00/../../../outside/secret.js")
        self.assertEqual((status, body), (200, APP))

    def test_absolute_form_target_is_404(self):
        status, body = raw_get(self.http.url, "http://127.0.0.1/../outside/secret.js")
        self.assertIn(status, (0, 400, 404))
        self.assertNotIn(SECRET, body)

    def test_symlinks_out_of_the_root_are_404(self):
        self.assertEqual(self.get("/link.js")[0], 404)
        self.assertEqual(self.get("/out/secret.js")[0], 404)

    def test_hidden_unknown_and_directories_are_404(self):
        for path in ("/.hidden.js", "/notes.md", "/js/deep/x.exe", "/js", "/js/deep",
                     "/missing.js", "/" + "a" * 300 + ".js"):
            status, h, _ = self.get(path)
            self.assertEqual(status, 404, path)


class RealClientTest(StackTestCase):
    """The repository's web/ folder: the page and every module it imports."""

    @classmethod
    def start_roles(cls):
        cls.stack.start_role("auth")
        cls.http = cls.stack.start_role("edge-http", {"NATTER_HTTP_WEB_ROOT": os.path.join(ROOT, "web")})

    def test_every_import_is_served_as_javascript(self):
        status, _, page = http_request(self.http.url, "GET", "/")
        self.assertEqual(status, 200)
        todo = re.findall(rb'(?:src|href)="([^"]+)"', page)
        self.assertIn(b"js/main.js", todo)
        seen = set()
        while todo:
            ref = todo.pop().decode()
            path = os.path.normpath("/" + ref.lstrip("/"))
            if path in seen:
                continue
            seen.add(path)
            status, h, body = http_request(self.http.url, "GET", path)
            self.assertEqual(status, 200, path)
            if path.endswith(".js"):
                self.assertTrue(h["content-type"].startswith("text/javascript"), path)
                base = os.path.dirname(path)
                for imp in re.findall(rb'from "(\.[^"]+)"', body):
                    todo.append(os.path.normpath(os.path.join(base, imp.decode())).lstrip("/").encode())
        self.assertGreaterEqual(len([p for p in seen if p.endswith(".js")]), 8, seen)
