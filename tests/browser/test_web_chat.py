"""test_web_chat.py - the web client (web/, docs/web.md) in two headless
Chromium profiles against a real stack: register, find each other, become
contacts, chat both ways (message, typing indicator, read receipt, unread
badge, presence), send an image (thumbnail on both sides, full image on
click), survive edge-ws going away (REST fallback, reconnect, sync of what
was missed) and refresh the access token before it expires (access_ttl is
70 s here, so the client refreshes after ~10 s).  Screenshots at laptop
and phone size go to $NATTER_TEST_OUTPUT.

After the chat part Alice places a video call to Bob with Chromium's fake
camera and microphone: both RTCPeerConnections must reach `connected`
through natter's signaling (call_offer / call_answer / call_ice over the
WebSocket), Alice's far <video> must play Bob's stream (videoWidth > 0,
currentTime advancing), then she hangs up and both see the call record in
the conversation.  Set-up time (offer sent -> `connected`, both sides) is
printed.  WebRTC must stay on loopback: run.py runs the whole test (stack
included) in a network namespace holding only `lo`, and Chromium is given
--allow-loopback-in-peer-connection (docs/web.md "The browser test").

The page must log no console error at all (only the WebSocket's own
complaints while edge-ws is down are expected), and the served CSP is
checked to be exactly what the client needs.
"""

import json
import os
import secrets
import shutil
import signal
import tempfile
import time
import unittest

from harness import ROOT, Api, Stack, http_request
from images import png

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 20          # seconds for any one thing to show up
LAPTOP = (1280, 800)
PHONE = (390, 844)
CHROME_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                # Calls: a fake camera and microphone, no permission prompt,
                # and ICE host candidates on loopback (the test's namespace
                # has nothing else; without the flag none are gathered).
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                "--allow-loopback-in-peer-connection")
IN_NETNS = os.environ.get("NATTER_BROWSER_NETNS") == "1"

# Console lines that are expected only while edge-ws is down on purpose.
WS_DOWN_NOISE = ("WebSocket connection to", "ERR_CONNECTION_REFUSED")


def browser(profile):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for f in CHROME_FLAGS:
        opts.add_argument(f)
    opts.add_argument("--user-data-dir=" + profile)
    opts.add_argument("--window-size=%d,%d" % LAPTOP)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=opts)
    d.set_page_load_timeout(WAIT)
    return d


class User:
    def __init__(self, test, name, profile):
        self.t, self.name, self.d = test, name, browser(profile)
        self.display = name.capitalize()

    def css(self, sel):
        return self.d.find_element(By.CSS_SELECTOR, sel)

    def wait(self, what, fn, timeout=WAIT):
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(WebDriverException,)).until(lambda _: fn())
        except TimeoutException:
            self.shot("FAILED-%s" % self.name)
            raise AssertionError("%s: no %s after %ss" % (self.name, what, timeout))

    def wait_css(self, sel, text=None, timeout=WAIT):
        def found():
            for el in self.d.find_elements(By.CSS_SELECTOR, sel):
                if el.is_displayed() and (text is None or text in el.text):
                    return el
            return None
        return self.wait("%s%s" % (sel, " with %r" % text if text else ""), found, timeout)

    def click(self, sel, text=None):
        """Click, again if a re-render replaced the element meanwhile (the
        views rebuild lists on every change, so elements go stale)."""
        self.wait("a clickable " + sel, lambda: self.wait_css(sel, text).click() or True)

    def shot(self, name):
        path = os.path.join(self.t.out, name + ".png")
        self.d.save_screenshot(path)
        return path

    def register(self, url):
        self.d.get(url)
        self.wait_css("button[name=toggle]").click()
        self.css("input[name=username]").send_keys(self.name)
        self.css("input[name=password]").send_keys("correct horse battery")
        self.css("input[name=display_name]").send_keys(self.display)
        self.css("button[name=submit]").click()
        self.wait_css(".me strong", self.display)
        self.wait_css(".me .dot.online")

    def token(self):
        return self.d.execute_script(
            "return JSON.parse(localStorage.getItem('natter.session')).access_token")

    def js(self, script, *args):
        return self.d.execute_script(script, *args)

    def console_errors(self, allowed=()):
        """SEVERE console lines since the last call (the log is drained)."""
        return [e["message"] for e in self.d.get_log("browser")
                if e["level"] == "SEVERE" and not any(a in e["message"] for a in allowed)]

    def send(self, text):
        box = self.wait_css("textarea[name=text]")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)


class WebChatTest(unittest.TestCase):

    def setUp(self):
        self.out = os.environ.get("NATTER_TEST_OUTPUT") or os.path.join(ROOT, "var", "test-output", "browser")
        os.makedirs(self.out, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix="natter-browser-")
        self.users = []
        self.stack = Stack()
        self.addCleanup(self.cleanup)
        st = self.stack
        st.start_role("auth", {"NATTER_AUTH_ACCESS_TTL": "70"})
        st.start_role("msg")
        st.start_role("presence")
        st.start_role("media", {"NATTER_NATS_REQUEST_TIMEOUT_MS": "5000"})
        self.ws = self.start_ws()
        self.http = st.start_role("edge-http", {
            "NATTER_HTTP_WEB_ROOT": os.path.join(ROOT, "web"),
            "NATTER_WS_PORT": str(self.ws.port),
            "NATTER_NATS_REQUEST_TIMEOUT_MS": "5000",
            "NATTER_HTTP_MAX_BODY": "65536",
            # civetweb holds a worker per open connection and Chromium keeps
            # up to 6 idle keep-alive connections per profile: the stack's 8
            # threads would let the first profile starve the second.
            "NATTER_HTTP_THREADS": "32"})

    def start_ws(self, port=None):
        """edge-ws, retried: on a shared machine another program can take
        the free port between the harness picking it and lws binding it."""
        for attempt in range(3):
            try:
                return self.stack.start_role("edge-ws", {"NATTER_WS_PORT": str(port)} if port else None)
            except Exception:
                if attempt == 2:
                    raise
                time.sleep(1)

    def cleanup(self):
        for u in self.users:
            try:
                u.d.quit()
            except Exception:
                pass
        failed = self.stack.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertFalse(failed, "roles did not exit 0 on SIGTERM: %r" % failed)

    def user(self, prefix):
        u = User(self, prefix + secrets.token_hex(4), os.path.join(self.tmp, prefix))
        self.users.append(u)
        return u

    def test_two_people_chat(self):
        t0 = time.monotonic()
        a, b = self.user("alice"), self.user("bob")
        a.register(self.http.url)
        b.register(self.http.url)
        token_at_login = a.token()

        # Alice finds Bob, asks to be contacts and opens a direct chat.
        a.css("input[name=user-search]").send_keys(b.name[:8])
        row = a.wait_css("li.result", b.display)
        row.find_element(By.CSS_SELECTOR, "button[name=add-contact]").click()
        a.wait_css("li.result button[name=add-contact]:disabled")
        row.find_element(By.CSS_SELECTOR, "button[name=chat]").click()
        a.wait_css(".chat-title", b.display)

        # Bob sees the request live and accepts it; both see the other online.
        b.click(".request button[name=accept]")
        a.send("Hello Bob, this is Alice")
        a.wait_css("li.msg.mine .text", "Hello Bob")
        b.wait_css("li.conv .badge", "1")
        b.wait_css("li.conv .preview", "Hello Bob")
        b.click("li.conv", a.display)
        b.wait_css("li.msg.theirs .text", "Hello Bob, this is Alice")
        # Bob opened it: Alice's message shows Read.
        a.wait_css("li.msg.mine .read", "Read")
        a.wait_css("li.conv .dot.online")
        b.wait_css("li.conv .dot.online")
        b.wait("no unread badge", lambda: not b.d.find_elements(By.CSS_SELECTOR, "li.conv .badge"))

        # Bob types (Alice sees it), then answers; Alice reads, Bob sees Read.
        b.css("textarea[name=text]").send_keys("Hi Ali")
        a.wait_css(".typing", b.display + " is typing")
        b.css("textarea[name=text]").send_keys("ce!" + Keys.ENTER)
        a.wait_css("li.msg.theirs .text", "Hi Alice!")
        b.wait_css("li.msg.mine .read", "Read")
        a.wait("typing cleared", lambda: a.css(".typing").text == "")
        # ... and the other way round: Alice types, Bob sees it.
        a.css("textarea[name=text]").send_keys("look")
        b.wait_css(".typing", a.display + " is typing")

        # Alice sends an image: both see the thumbnail, Bob opens the full one.
        img = os.path.join(self.tmp, "photo.png")
        with open(img, "wb") as f:
            f.write(png(640, 400))
        a.css("textarea[name=text]").clear()
        a.d.execute_script("document.querySelector('input[name=attachment]').hidden = false")
        a.css("input[name=attachment]").send_keys(img)
        a.d.execute_script("document.querySelector('input[name=attachment]').hidden = true")
        for u in (a, b):
            thumb = u.wait_css("li.msg img.thumb")
            u.wait("thumbnail decoded", lambda: u.d.execute_script(
                "const i = document.querySelector('li.msg img.thumb');"
                "return i && i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:') && [i.naturalWidth, i.naturalHeight]"))
        size = b.d.execute_script("const i = document.querySelector('li.msg img.thumb'); return [i.naturalWidth, i.naturalHeight]")
        self.assertEqual(size, [320, 200])      # media.thumb_px = 320, aspect kept
        b.click("li.msg img.thumb")
        full = b.wait("full image", lambda: b.d.execute_script(
            "const i = document.querySelector('.lightbox img.full');"
            "return i && i.complete && i.naturalWidth > 0 && [i.naturalWidth, i.naturalHeight]"))
        self.assertEqual(full, [640, 400])
        b.click(".lightbox")
        b.send("Nice picture")
        a.wait_css("li.msg.theirs .text", "Nice picture")

        # Screenshots: laptop (both), phone (Bob's chat, then his list).
        time.sleep(0.3)
        shots = [a.shot("chat-laptop-alice"), b.shot("chat-laptop-bob")]
        b.d.set_window_size(*PHONE)
        b.wait_css("button[name=back]")
        shots.append(b.shot("chat-phone-bob"))
        b.click("button[name=back]")
        b.wait_css("li.conv", a.display)
        shots.append(b.shot("list-phone-bob"))
        b.click("li.conv", a.display)
        b.wait_css("textarea[name=text]")

        for u in (a, b):
            self.assertEqual(u.console_errors(), [], u.name + ": console errors during the chat")

        self.video_call(a, b, shots)
        for u in (a, b):
            self.assertEqual(u.console_errors(), [], u.name + ": console errors during the call")

        # edge-ws goes away: Bob's send falls back to REST; when the edge is
        # back both reconnect and Alice syncs the message she missed.
        self.ws.kill(signal.SIGTERM)
        self.ws.wait(15)
        a.wait_css(".me .dot:not(.online)")
        b.d.set_window_size(*LAPTOP)
        b.wait_css(".me .dot:not(.online)")
        b.send("Sent while the socket was down")
        b.wait_css("li.msg.mine .text", "Sent while the socket was down")
        self.ws = self.start_ws(self.ws.port)
        a.wait_css(".me .dot.online", timeout=30)
        a.wait_css("li.msg.theirs .text", "Sent while the socket was down")
        self.assertEqual(len(a.d.find_elements(By.XPATH, "//li[contains(@class,'msg')]//span[text()='Nice picture']")), 1,
                         "dedup by seq: the synced page must not repeat messages")
        a.send("Back online")
        b.wait_css("li.msg.theirs .text", "Back online", timeout=30)

        # History pages: 40 more messages, Bob reloads (the session survives a
        # reload), sees the newest 30 and, scrolled to the top, the rest.
        cid = a.css("li.conv").get_attribute("data-cid")
        api = Api(self.http.url)
        for i in range(40):
            r = api.call("POST", "/api/messages", {"conversation_id": cid, "client_msg_id": "bulk%d" % i,
                                                   "type": "text", "body": "bulk %d" % i}, token=a.token())
            self.assertEqual(r.status, 201, r)
        total = 49      # 6 chat messages, 3 call records, 40 bulk
        b.d.refresh()
        b.click("li.conv", a.display)
        b.wait_css("li.msg .text", "bulk 39")
        b.wait("first page", lambda: len(b.d.find_elements(By.CSS_SELECTOR, "li.msg")) == 30)
        b.wait_css("li.more")
        b.d.execute_script("document.querySelector('ol.messages').scrollTop = 0")
        b.wait("all %d messages" % total, lambda: len(b.d.find_elements(By.CSS_SELECTOR, "li.msg")) == total)
        self.assertEqual(b.css("li.msg .text").text, "Hello Bob, this is Alice")
        self.assertEqual(b.d.find_elements(By.CSS_SELECTOR, "li.more"), [])

        # A group from contacts: Bob sees it and its first message.
        a.css("button[name=new-group]").click()
        a.wait_css("input[name=group-name]").send_keys("Team")
        a.click(".pick input[type=checkbox]")
        a.click("button[name=create-group]")
        a.wait_css(".chat-title", "Team")
        a.send("Hi team")
        b.wait_css("li.conv", "Team")
        b.wait_css("li.conv .preview", a.display + ": Hi team")
        self.group_and_more(a, b)

        # The access token was refreshed before it expired (ttl 70 s, 60 s early).
        a.wait("a refreshed token", lambda: a.token() != token_at_login, timeout=30)

        # No console error since the call (the WebSocket's own complaints
        # while edge-ws was down excepted), nothing refused by the CSP, and
        # the CSP is exactly what the client needs.
        for u in (a, b):
            self.assertEqual(u.console_errors(WS_DOWN_NOISE), [], u.name)
        self.check_csp()

        # Log out: back to the sign-in form.
        a.d.set_window_size(*LAPTOP)
        a.click("button[name=logout]")
        a.wait_css("button[name=submit]", "Sign in")
        for s in shots:
            self.assertGreater(os.path.getsize(s), 10000, s)
        print("\nbrowser: chat and call scenario %.1fs; screenshots: %s" % (time.monotonic() - t0, ", ".join(map(os.path.basename, shots))))

    def group_and_more(self, a, b):
        """Mentions, rename, remove / add / roles / leave, a file that is not
        an image, revoking my message, editing my profile."""
        # A mention: Bob's list marks the group, the text is highlighted.
        a.send("@%s look at this" % b.name)
        b.wait_css("li.conv .badge.at")
        b.click("li.conv", "Team")
        b.wait_css("li.msg.mentions-me mark.mention", "@" + b.name)
        b.wait("mention badge cleared", lambda: not b.d.find_elements(By.CSS_SELECTOR, "li.conv .badge.at"))
        # Rename: Bob's title and the system line follow.
        a.click("button[name=group-info]")
        box = a.wait_css("input[name=rename]")
        box.clear()
        box.send_keys("Team Natter")
        a.click("button[name=save-name]")
        b.wait_css(".chat-title", "Team Natter")
        b.wait_css("li.msg.system", "renamed the group to “Team Natter”")
        a.shot("group-laptop-alice")
        # Remove Bob: the group leaves his list; add him back: it returns.
        a.click("li.member button[name=remove-member]")
        b.wait("the group gone", lambda: not [e for e in b.d.find_elements(By.CSS_SELECTOR, "li.conv")
                                              if "Team Natter" in e.text])
        a.wait_css("li.msg.system", "removed " + b.display)
        a.wait_css("select[name=add-member] option", b.display)
        a.d.execute_script("const s = document.querySelector('select[name=add-member]');"
                           "s.value = s.options[1].value;")
        a.click("button[name=add]")
        b.wait_css("li.conv", "Team Natter")
        a.wait_css("li.msg.system", "added " + b.display)
        # Roles: Bob made an admin, then back.
        a.click("li.member button[name=set-role]", "Make admin")
        a.wait_css("li.member .role", "admin")
        a.wait_css("li.msg.system", "You made " + b.display + " an admin")
        a.click("li.member button[name=set-role]", "Make member")
        a.wait_css("li.msg.system", "You made " + b.display + " a member")
        # A file that is not an image: a download link with its name and size.
        path = os.path.join(self.tmp, "notes.txt")
        with open(path, "w") as f:
            f.write("natter notes\n" * 100)
        a.d.execute_script("document.querySelector('input[name=attachment]').hidden = false")
        a.css("input[name=attachment]").send_keys(path)
        a.d.execute_script("document.querySelector('input[name=attachment]').hidden = true")
        b.click("li.conv", "Team Natter")
        link = b.wait_css("li.msg a.file", "notes.txt")
        self.assertIn("1.3 KB", link.text)
        got = b.d.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const id = document.querySelector('li.msg a.file').dataset.file;
            import('/js/api.js').then((api) => api.fileBlob(id)).then((b) => b.text()).then(done, (e) => done('ERR ' + e));""")
        self.assertEqual(got, "natter notes\n" * 100)
        # Revoke: Alice removes her "Hi team"; Bob sees it gone.
        hi = a.wait_css("li.msg.mine", "Hi team")
        hi.find_element(By.CSS_SELECTOR, "button[name=revoke]").click()
        b.wait_css("li.msg em", "message removed")
        self.assertFalse([e for e in b.d.find_elements(By.CSS_SELECTOR, "li.msg .text") if e.text == "Hi team"])
        # Bob leaves; Alice sees it.
        b.click("button[name=group-info]")
        b.click("button[name=leave]")
        b.wait("the group gone", lambda: not [e for e in b.d.find_elements(By.CSS_SELECTOR, "li.conv")
                                              if "Team Natter" in e.text])
        a.wait_css("li.msg.system", b.display + " left")
        # My profile: a new display name and bio.
        a.click("button[name=profile]")
        name = a.wait_css("input[name=profile-name]")
        name.clear()
        name.send_keys("Alice Liddell")
        a.css("textarea[name=profile-bio]").send_keys("down the rabbit hole")
        a.click("button[name=profile-save]")
        a.wait_css(".me strong", "Alice Liddell")
        a.shot("profile-laptop-alice")
        me = Api(self.http.url).call("GET", "/api/users/me", token=a.token())
        self.assertEqual((me.json["user"]["display_name"], me.json["user"]["bio"]),
                         ("Alice Liddell", "down the rabbit hole"))

    def check_csp(self):
        st, hdrs, _ = http_request(self.http.url, "GET", "/")
        self.assertEqual(st, 200)
        csp = hdrs["content-security-policy"]
        want = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
                "connect-src 'self' ws://127.0.0.1:%d; manifest-src 'self'; base-uri 'none'; "
                "form-action 'none'; frame-ancestors 'none'" % self.ws.port)
        self.assertEqual(csp, want)

    def video_call(self, a, b, shots):
        """Alice video-calls Bob; both peer connections connect through
        natter's signaling, Alice plays Bob's camera; Alice hangs up."""
        if not IN_NETNS:
            self.fail("the call needs the loopback-only network namespace run.py makes "
                      "(unshare -n); run the test through tests/browser/run.py as root")
        t0 = time.monotonic()
        b.d.set_window_size(*LAPTOP)
        a.click("button[name=call-video]")
        b.wait_css(".call[data-phase=ringing]", a.display)
        a.wait_css(".call[data-phase=ringing]", "calling")
        shots.append(b.shot("call-ringing-bob"))
        b.click("button[name=call-accept]")
        state = "return (natter.store.state.call || {}).pcState"
        for u in (a, b):
            u.wait("peer connection connected", lambda: u.js(state) == "connected", timeout=30)
        # Set-up time, offer sent -> connected, on one clock (both browsers
        # run on this machine: performance.timeOrigin + now() is wall time).
        ta = a.js("return natter.store.state.call.t")
        tb = b.js("return natter.store.state.call.t")
        # offerSent -> (callee) offerReceived: signaling to the ringing page;
        # offerReceived -> accepted: the page rings until the test clicks
        # (a screenshot first), so that part is reported apart.
        rung = tb["accepted"] - tb["offerReceived"]
        timing = {
            "caller": ta["connected"] - ta["offerSent"],
            "callee": tb["connected"] - ta["offerSent"],
            "ringing": rung,
            "offer_to_ring": tb["offerReceived"] - ta["offerSent"],
            "caller_no_ring": ta["connected"] - ta["offerSent"] - rung,
            "callee_no_ring": tb["connected"] - ta["offerSent"] - rung,
            "accept_to_answer": tb["answerSent"] - tb["accepted"],
            "accept_to_media": tb["media"] - tb["accepted"],
            "answer_to_caller": ta["connected"] - tb["answerSent"],
            "answer_to_callee": tb["connected"] - tb["answerSent"],
        }
        for k, v in timing.items():
            self.assertGreaterEqual(v, 0, k)
        # The far video plays: frames decoded and time moving.
        playing = ("const v = document.querySelector('.call video.remote');"
                   "return v && !v.paused && v.readyState >= 2 && v.videoWidth > 0 && [v.videoWidth, v.videoHeight, v.currentTime]")
        first = a.wait("the far video playing", lambda: a.js(playing), timeout=15)
        a.wait("the far video advancing", lambda: (a.js(playing) or [0, 0, 0])[2] > first[2] + 0.5, timeout=10)
        b.wait("Bob's far video playing", lambda: b.js(playing), timeout=15)
        # Both ends on loopback: the selected pair's local address.
        pair = a.d.execute_async_script("""
            const done = arguments[arguments.length - 1];
            natter.store.state.call.pc.getStats().then((r) => {
              let pair = null; const c = {};
              r.forEach((s) => { if (s.type === 'local-candidate' || s.type === 'remote-candidate') c[s.id] = s;
                                 if (s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated) pair = s; });
              done(pair ? [c[pair.localCandidateId].address, c[pair.remoteCandidateId].address] : null);
            });""")
        self.assertEqual(pair, ["127.0.0.1", "127.0.0.1"], "the media path must be loopback")
        shots.append(a.shot("call-laptop-alice"))
        shots.append(b.shot("call-laptop-bob"))
        b.d.set_window_size(*PHONE)
        b.wait("the phone layout", lambda: b.js("return document.querySelector('.call').getBoundingClientRect().left") == 0)
        shots.append(b.shot("call-phone-bob"))
        b.d.set_window_size(*LAPTOP)
        a.click("button[name=call-hangup]")
        b.wait_css(".call[data-phase=ended]", "Call ended")
        a.wait_css(".call[data-phase=ended]", "Call ended")
        for u in (a, b):
            u.wait("pc closed", lambda: u.js("return natter.calls.last && natter.calls.last.pc.connectionState") == "closed")
        # The call record in the conversation, once, for both.
        a.wait_css("li.msg.call-record", "Video call from you, 0:")
        b.wait_css("li.msg.call-record", "Video call from " + a.display + ", 0:")
        for u in (a, b):
            self.assertEqual(len(u.d.find_elements(By.CSS_SELECTOR, "li.msg.call-record")), 1, u.name)
        # The server's duration (answer -> hang-up) against the page's own
        # (connected -> hang-up): the same call, within set-up and rounding.
        rec = json.loads(a.js("return natter.store.sortedMessages(natter.store.state.open)"
                              ".filter((m) => m.type === 'system' && m.body.includes('\"call\"')).pop().body"))
        self.assertEqual((rec["event"], rec["media"], rec["answered"], rec["reason"]), ("call", "video", True, "hangup"))
        self.assertLessEqual(abs(rec["duration_s"] - a.js("return natter.calls.last.duration")), 2, rec)
        for u in (a, b):
            u.wait("the call overlay gone", lambda: not u.js("return natter.store.state.call"), timeout=10)
        # Declined: an audio call Bob turns down; Alice reads why, both
        # conversations get a missed-call record.
        a.click("button[name=call-audio]")
        b.wait_css(".call[data-phase=ringing]", "incoming audio call")
        b.click("button[name=call-reject]")
        a.wait_css(".call[data-phase=ended]", "Call declined")
        a.wait_css("li.msg.call-record", "Missed audio call from you (declined)")
        b.wait_css("li.msg.call-record", "Missed audio call from " + a.display)
        for u in (a, b):
            u.wait("the call overlay gone", lambda: not u.js("return natter.store.state.call"), timeout=10)
        # Bob's socket drops mid-call: his page ends the call at once
        # ("Connection lost"); Alice's ends too, by the server's `gone` if a
        # liveness probe fell in Bob's reconnect gap, else by the hang-up
        # Bob's page sends once it is back.  Either way within seconds.
        a.click("button[name=call-video]")
        b.click("button[name=call-accept]")
        for u in (a, b):
            u.wait("peer connection connected", lambda: u.js(state) == "connected", timeout=30)
        t_drop = time.monotonic()
        b.js("natter.client.dropSocket()")
        b.wait_css(".call[data-phase=ended]", "Connection lost")
        a.wait_css(".call[data-phase=ended]", timeout=10)
        drop_s = time.monotonic() - t_drop
        self.assertIn(a.js("return natter.calls.last.reason"), ("gone", "hangup"))
        b.wait_css(".me .dot.online")
        for u in (a, b):
            u.wait("three call records", lambda: len(u.d.find_elements(By.CSS_SELECTOR, "li.msg.call-record")) == 3)
        shots.append(a.shot("chat-after-call-alice"))
        for u in (a, b):
            u.wait("the call overlay gone", lambda: not u.js("return natter.store.state.call"), timeout=10)
        print("\nbrowser: video call set-up, offer sent -> connected: caller %(caller).0f ms, callee %(callee).0f ms, "
              "of which the page rang %(ringing).0f ms (test screenshot + click); without the ringing: "
              "caller %(caller_no_ring).0f ms, callee %(callee_no_ring).0f ms; offer -> ringing %(offer_to_ring).0f ms; "
              "accept -> answer sent %(accept_to_answer).0f ms (camera %(accept_to_media).0f ms); "
              "answer sent -> connected: caller %(answer_to_caller).0f ms, callee %(answer_to_callee).0f ms" % timing)
        print("browser: far video %dx%d; the callee's socket dropped -> caller's call ended (%s) in %.1fs; whole call step %.1fs"
              % (first[0], first[1], a.js("return natter.calls.last.reason"), drop_s, time.monotonic() - t0))


if __name__ == "__main__":
    unittest.main()
