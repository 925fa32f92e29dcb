"""test_media.py - uploads, downloads, ranges, thumbnails and who may read
a file (docs/media.md, API.md "Presence and files", issue 6 "Media").

One stack: nats-server, redis, mariadb, auth, msg, media, edge-http (upload
limit MAX bytes) and edge-ws, all sharing stack.media_root.  Images are
made here (PNG with zlib + struct); thumbnail sizes are read from the JPEG
SOF marker.  After every test <media root>/tmp/ must be empty: uploads in
flight are the only thing it may hold.
"""

import hashlib
import os
import secrets
import socket
import time
import urllib.parse
from http.client import HTTPResponse

from harness import Api, StackTestCase, unique_name
from images import corrupt_png, jpeg_size, png
from wsclient import WsClient

MAX = 300000      # media.max_upload_bytes for this stack
THUMB_PX = 320    # media.thumb_px (the default)


def cmid():
    return "m" + secrets.token_hex(8)


class MediaTest(StackTestCase):

    @classmethod
    def start_roles(cls):
        env = {"NATTER_NATS_REQUEST_TIMEOUT_MS": "5000",
               "NATTER_MEDIA_MAX_UPLOAD_BYTES": str(MAX)}
        cls.stack.start_role("auth")
        cls.stack.start_role("msg")
        cls.stack.start_role("media", env)
        cls.http = cls.stack.start_role("edge-http", dict(env, NATTER_HTTP_MAX_BODY="65536"))
        cls.api = Api(cls.http.url)
        cls.ws_edge = cls.stack.start_role("edge-ws", {"NATTER_NATS_REQUEST_TIMEOUT_MS": "5000"})
        cls.tmp_dir = os.path.join(cls.stack.media_root, "tmp")

    def tearDown(self):
        deadline = time.monotonic() + 3
        while os.listdir(self.tmp_dir) and time.monotonic() < deadline:
            time.sleep(0.05)   # an error reply may leave just before its unlink
        self.assertEqual(os.listdir(self.tmp_dir), [], "media tmp/ must be empty")

    # -- helpers ------------------------------------------------------------

    def user(self):
        name = unique_name("m")
        self.assertEqual(self.api.register(name).status, 201)
        r = self.api.login(name)
        self.assertEqual(r.status, 200, r)
        return r.json["user"]["id"], r.json["access_token"]

    def pair(self):
        a, b = self.user(), self.user()
        r = self.api.call("POST", "/api/conversations", {"type": "direct", "peer_id": b[0]},
                          token=a[1])
        self.assertEqual(r.status, 201, r)
        return a, b, r.json["conversation"]["id"]

    def upload(self, token, data, name=None, ctype="application/octet-stream", status=201):
        path = "/api/files/upload"
        if name is not None:
            path += "?name=" + urllib.parse.quote(name, safe="")
        h = {"Content-Type": ctype} if ctype else {}
        r = self.api.call("POST", path, raw=data, token=token, headers=h, timeout=30)
        self.assertEqual(r.status, status, r)
        return r.json["file"] if status == 201 else r

    def get(self, token, fid, thumb=False, method="GET", headers=None):
        path = "/api/files/%s%s" % (fid, "/thumbnail" if thumb else "")
        return self.api.call(method, path, token=token, headers=headers)

    def send(self, token, cid, type_, body):
        return self.api.call("POST", "/api/messages", {"conversation_id": cid,
                                                       "client_msg_id": cmid(),
                                                       "type": type_, "body": body}, token=token)

    def assert_error(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.json["error"]["code"], code, r)
        self.assertTrue(r.json["error"]["message"], r)

    def stored(self):
        """Every file under the media root outside tmp/ and thumbs/."""
        out = []
        for d, dirs, files in os.walk(self.stack.media_root):
            dirs[:] = [x for x in dirs if d != self.stack.media_root or x not in ("tmp", "thumbs")]
            out += [os.path.join(d, f) for f in files]
        return sorted(out)

    def thumbs(self):
        return sorted(os.path.join(d, f) for d, _, fs in
                      os.walk(os.path.join(self.stack.media_root, "thumbs")) for f in fs)

    def raw(self, head, chunks=()):
        """Send head, then chunks (a server that stops reading is fine);
        returns (response, body, closed)."""
        s = socket.create_connection(("127.0.0.1", self.http.port), timeout=10)
        try:
            s.sendall(head)
            for c in chunks:
                try:
                    s.sendall(c)
                except OSError:
                    break
            resp = HTTPResponse(s)
            resp.begin()
            body = resp.read()
            try:
                s.settimeout(5)
                closed = s.recv(1) == b""
            except (ConnectionResetError, socket.timeout):
                closed = False
            return resp, body, closed
        finally:
            s.close()

    def alive(self):
        for role in ("edge-http", "media"):
            self.assertTrue(self.stack.roles(role), "%s died" % role)

    # -- upload -------------------------------------------------------------

    def test_upload_and_download(self):
        a = self.user()
        data = b"hello natter\n" * 10
        f = self.upload(a[1], data, "notes \u00e9t\u00e9.txt", "application/x-made-up")
        self.assertEqual(f["name"], "notes \u00e9t\u00e9.txt")
        self.assertEqual((f["mime"], f["size"]), ("text/plain", len(data)))
        self.assertEqual(f["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(f["url"], "/api/files/%s" % f["id"])
        self.assertIsNone(f["thumbnail_url"])
        r = self.get(a[1], f["id"])
        self.assertEqual((r.status, r.body), (200, data))
        self.assertTrue(r.headers["content-type"].startswith("text/plain"), r.headers)
        self.assertEqual(r.headers["content-length"], str(len(data)))
        self.assertEqual(r.headers["x-content-type-options"], "nosniff")
        self.assertTrue(r.headers["cache-control"].startswith("private, max-age="))
        self.assertEqual(r.headers["accept-ranges"], "bytes")
        self.assertEqual(r.headers["content-disposition"],
                         "attachment; filename=\"notes _t_.txt\"; "
                         "filename*=UTF-8''notes%20%C3%A9t%C3%A9.txt")
        # No name: "file".  Metrics count uploads.
        self.assertEqual(self.upload(a[1], b"x")["name"], "file")
        m = self.api.call("GET", "/metrics").body.decode()
        self.assertIn('natter_media_uploads_total{result="stored"}', m)

    def test_too_large_content_length(self):
        a = self.user()
        before = self.stored()
        head = ("POST /api/files/upload?name=big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
                % (a[1], MAX + 1)).encode()
        t0 = time.monotonic()
        resp, body, closed = self.raw(head)   # not one body byte sent: refused on the header
        self.assertEqual(resp.status, 413)
        self.assertTrue(closed, "the connection closes after a 413")
        self.assertLess(time.monotonic() - t0, 5)
        self.assertIn(b"too_large", body)
        self.assertEqual(resp.getheader("Connection", "").lower(), "close")
        # Exactly MAX is fine.
        self.assertEqual(self.upload(a[1], secrets.token_bytes(MAX))["size"], MAX)
        self.assertEqual(len(self.stored()), len(before) + 1)

    def test_too_large_chunked(self):
        a = self.user()
        before = self.stored()
        head = ("POST /api/files/upload?name=big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Transfer-Encoding: chunked\r\n\r\n" % a[1]).encode()
        piece = secrets.token_bytes(16384)
        n = MAX // len(piece) + 2
        chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * n + [b"0\r\n\r\n"]
        resp, body, closed = self.raw(head, chunks)
        self.assertEqual(resp.status, 413)
        self.assertIn(b"too_large", body)
        self.assertTrue(closed, "the connection closes after a 413")
        self.assertEqual(self.stored(), before)
        # A chunked body within the limit is kept.
        data = secrets.token_bytes(40000)
        resp, body, _ = self.raw(head, [b"%x\r\n%s\r\n" % (len(data), data), b"0\r\n\r\n"])
        self.assertEqual(resp.status, 201, body)
        self.assertIn(hashlib.sha256(data).hexdigest().encode(), body)
        self.alive()

    def test_empty_and_bad_names(self):
        a = self.user()
        self.assert_error(self.upload(a[1], b"", status=400), 400, "bad_request")
        head = ("POST /api/files/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" % a[1]).encode()
        resp, body, _ = self.raw(head)
        self.assertEqual(resp.status, 400, body)
        for bad in ("", "a/b", "a\\b", "a\nb", "x" * 256, "..", "\x7f"):
            self.assert_error(self.upload(a[1], b"data", bad, status=400), 400, "bad_request")
        r = self.api.call("POST", "/api/files/upload?name=%FF%FE", raw=b"data", token=a[1])
        self.assert_error(r, 400, "bad_request")
        self.assertEqual(self.upload(a[1], b"data", "y" * 255)["name"], "y" * 255)
        r = self.api.call("POST", "/api/files/upload", raw=b"data")
        self.assert_error(r, 401, "unauthorized")

    def test_corrupted_image(self):
        a = self.user()
        before, thumbs = self.stored(), self.thumbs()
        r = self.upload(a[1], corrupt_png(), "broken.png", "image/png", status=400)
        self.assert_error(r, 400, "bad_request")
        self.assertIn("image", r.json["error"]["message"])
        self.assertEqual(self.stored(), before, "nothing kept")
        self.assertEqual(self.thumbs(), thumbs, "no thumbnail")
        self.alive()
        self.assertEqual(self.upload(a[1], png(20, 10), "ok.png")["mime"], "image/png")

    def test_pool_down_is_503_and_leaves_nothing(self):
        a = self.user()
        pools = self.stack.roles("media")
        for p in pools:
            p.kill()
        for p in pools:
            self.assertEqual(p.wait(15), 0)
        try:
            r = self.upload(a[1], b"nobody keeps this", status=503)
            self.assert_error(r, 503, "unavailable")
        finally:
            self.stack.start_role("media", {"NATTER_MEDIA_MAX_UPLOAD_BYTES": str(MAX)})

    # -- who may read -------------------------------------------------------

    def test_download_permissions(self):
        a, b, cid = self.pair()
        stranger = self.user()
        f = self.upload(a[1], png(40, 30), "pic.png")
        self.assertEqual(self.get(a[1], f["id"]).status, 200)
        self.assert_error(self.get(b[1], f["id"]), 403, "forbidden")        # not sent yet
        self.assert_error(self.get(b[1], f["id"], thumb=True), 403, "forbidden")
        r = self.send(a[1], cid, "image", f["id"])
        self.assertEqual(r.status, 201, r)
        mid = r.json["message"]["id"]
        self.assertEqual(r.json["message"]["body"], f["id"])
        r = self.get(b[1], f["id"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["content-type"], "image/png")
        self.assertTrue(r.headers["content-disposition"].startswith("inline;"))
        self.assertEqual(self.get(b[1], f["id"], thumb=True).status, 200)
        self.assert_error(self.get(stranger[1], f["id"]), 403, "forbidden")
        self.assert_error(self.get(stranger[1], f["id"], thumb=True), 403, "forbidden")
        r = self.api.call("POST", "/api/messages/%s/revoke" % mid, token=a[1])
        self.assertEqual(r.status, 200, r)
        self.assert_error(self.get(b[1], f["id"]), 403, "forbidden")        # revoked
        self.assertEqual(self.get(a[1], f["id"]).status, 200)               # the uploader
        for bad in ("999999999999", "abc", "0", "1x"):
            self.assert_error(self.get(a[1], bad), 404, "not_found")
        r = self.api.call("GET", "/api/files/%s" % f["id"])
        self.assert_error(r, 401, "unauthorized")

    def test_forged_file_ids(self):
        a, b, cid = self.pair()
        other = self.user()
        theirs = self.upload(other[1], png(8, 8), "theirs.png")
        text = self.upload(a[1], b"just text\n", "t.png", "image/png")
        self.assertEqual(text["mime"], "text/plain")                       # sniffed, not trusted
        forged = (theirs["id"], "999999999999", "abc", "", "12 ", text["id"])
        for body in forged:
            self.assert_error(self.send(a[1], cid, "image", body), 400, "bad_request")
        for body in forged[:5]:
            self.assert_error(self.send(a[1], cid, "file", body), 400, "bad_request")
        self.assertEqual(self.send(a[1], cid, "file", text["id"]).status, 201)
        ws = WsClient.connect("127.0.0.1", self.ws_edge.port, "/ws?token=" + a[1])
        try:
            self.assertEqual(ws.recv_json()["op"], "hello")
            for i, body in enumerate(forged):
                rid = "f%d" % i
                ws.send_json({"op": "send", "rid": rid, "conversation_id": cid,
                              "client_msg_id": cmid(), "type": "image", "body": body})
                while True:
                    fr = ws.recv_json(10)
                    if fr.get("rid") == rid:
                        break
                self.assertEqual((fr["op"], fr.get("code")), ("error", "bad_request"), fr)
        finally:
            ws.close()
        self.assert_error(self.get(b[1], theirs["id"]), 403, "forbidden")

    # -- storage ------------------------------------------------------------

    def test_identical_uploads_are_stored_once(self):
        a, b = self.user(), self.user()
        data = secrets.token_bytes(5000)
        f1 = self.upload(a[1], data, "one.bin")
        f2 = self.upload(b[1], data, "two.bin")
        self.assertNotEqual(f1["id"], f2["id"])
        self.assertEqual(f1["sha256"], f2["sha256"])
        sha = f1["sha256"]
        on_disk = [p for p in self.stored() if os.path.basename(p) == sha]
        self.assertEqual(on_disk, [os.path.join(self.stack.media_root, sha[:2], sha[2:4], sha)])
        self.assertEqual(self.get(b[1], f2["id"]).body, data)
        r = self.get(b[1], f2["id"])
        self.assertIn("two.bin", r.headers["content-disposition"])
        self.assert_error(self.get(b[1], f1["id"]), 403, "forbidden")  # same bytes, not b's upload

    def test_ranges(self):
        a = self.user()
        data = secrets.token_bytes(1000)
        fid = self.upload(a[1], data, "r.bin")["id"]
        for rng, part in (("bytes=0-9", (0, 9)), ("bytes=990-", (990, 999)),
                          ("bytes=-5", (995, 999)), ("bytes=500-5000", (500, 999)),
                          ("bytes=-5000", (0, 999))):
            r = self.get(a[1], fid, headers={"Range": rng})
            self.assertEqual(r.status, 206, rng)
            self.assertEqual(r.body, data[part[0]:part[1] + 1], rng)
            self.assertEqual(r.headers["content-range"], "bytes %d-%d/1000" % part, rng)
            self.assertEqual(r.headers["content-length"], str(part[1] - part[0] + 1), rng)
        for rng in ("bytes=1000-", "bytes=1000-2000", "bytes=-0"):
            r = self.get(a[1], fid, headers={"Range": rng})
            self.assertEqual(r.status, 416, rng)
            self.assertEqual(r.headers["content-range"], "bytes */1000", rng)
        for rng in (None, "bytes=5-2", "bytes=0-1,5-6", "pages=1-2", "bytes=x-"):
            r = self.get(a[1], fid, headers={"Range": rng} if rng else None)
            self.assertEqual((r.status, r.body), (200, data), rng)
        etag = self.get(a[1], fid).headers["etag"]
        r = self.get(a[1], fid, headers={"Range": "bytes=0-0", "If-Range": etag})
        self.assertEqual((r.status, r.body), (206, data[:1]))
        r = self.get(a[1], fid, headers={"Range": "bytes=0-0", "If-Range": '"stale"'})
        self.assertEqual((r.status, r.body), (200, data))
        r = self.get(a[1], fid, method="HEAD")
        self.assertEqual((r.status, r.body, r.headers["content-length"]), (200, b"", "1000"))
        r = self.get(a[1], fid, method="HEAD", headers={"Range": "bytes=10-19"})
        self.assertEqual((r.status, r.body, r.headers["content-range"]),
                         (206, b"", "bytes 10-19/1000"))
        # A HEAD error has no body either: the next answer on the connection parses.
        s = socket.create_connection(("127.0.0.1", self.http.port), timeout=10)
        try:
            s.sendall(b"HEAD /api/files/999999999 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                      + a[1].encode() + b"\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            buf = b""
            while not buf.endswith(b'{"status":"ok"}'):
                chunk = s.recv(4096)
                self.assertTrue(chunk, buf)
                buf += chunk
            first, rest = buf.split(b"\r\n\r\n", 1)
            self.assertTrue(first.startswith(b"HTTP/1.1 404"), buf)
            self.assertTrue(rest.startswith(b"HTTP/1.1 200"), buf)
        finally:
            s.close()

    def test_thumbnails(self):
        a = self.user()
        before = len(self.thumbs())
        f = self.upload(a[1], png(800, 400), "wide.png")
        self.assertEqual(f["thumbnail_url"], "/api/files/%s/thumbnail" % f["id"])
        r = self.get(a[1], f["id"], thumb=True)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["content-type"], "image/jpeg")
        w, h = jpeg_size(r.body)
        self.assertLessEqual(max(w, h), THUMB_PX)
        self.assertGreater(w, h)                                   # keeps its shape
        self.assertEqual(self.get(a[1], f["id"], thumb=True).body, r.body)
        self.assertEqual(len(self.thumbs()), before + 1)
        f2 = self.upload(a[1], png(800, 400), "again.png")          # same bytes: no new thumbnail
        self.assertEqual(self.get(a[1], f2["id"], thumb=True).body, r.body)
        self.assertEqual(len(self.thumbs()), before + 1)
        # A JPEG source too: the thumbnail we just got is one.
        j = self.upload(a[1], r.body, "thumb.jpg")
        self.assertEqual(j["mime"], "image/jpeg")
        self.assertEqual(jpeg_size(self.get(a[1], j["id"], thumb=True).body), (w, h))
        small = self.upload(a[1], png(16, 12), "small.png")
        self.assertLessEqual(max(jpeg_size(self.get(a[1], small["id"], thumb=True).body)), 16)
        text = self.upload(a[1], b"not an image", "a.txt")
        self.assert_error(self.get(a[1], text["id"], thumb=True), 404, "not_found")

    def test_mime_is_sniffed(self):
        a, b, cid = self.pair()
        f = self.upload(a[1], png(30, 30), "really.txt", "text/plain")
        self.assertEqual(f["mime"], "image/png")
        self.assertEqual(self.get(a[1], f["id"]).headers["content-type"], "image/png")
        self.assertIsNotNone(f["thumbnail_url"])
        t = self.upload(a[1], b"plain words, nothing else\n", "fake.png", "image/png")
        self.assertEqual(t["mime"], "text/plain")
        self.assertIsNone(t["thumbnail_url"])
        r = self.get(a[1], t["id"])
        self.assertTrue(r.headers["content-type"].startswith("text/plain"))
        self.assertTrue(r.headers["content-disposition"].startswith("attachment;"))
        self.assert_error(self.send(a[1], cid, "image", t["id"]), 400, "bad_request")
        self.assertEqual(self.send(a[1], cid, "file", t["id"]).status, 201)
        self.assertEqual(self.send(a[1], cid, "image", f["id"]).status, 201)
