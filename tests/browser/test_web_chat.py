"""test_web_chat.py - the web client (web/, docs/web.md) in two headless
Chromium profiles against a real stack: register, find each other, become
contacts, chat both ways (message, typing indicator, read receipt, unread
badge, presence), send an image (thumbnail on both sides, full image on
click), survive edge-ws going away (REST fallback, reconnect, sync of what
was missed) and refresh the access token before it expires (access_ttl is
70 s here, so the client refreshes after ~10 s).  Screenshots at laptop
and phone size go to $NATTER_TEST_OUTPUT.  Calls are not part of the
client yet (issue 14's signaling is not built), so nothing here calls.
"""

import os
import secrets
import shutil
import signal
import tempfile
import time
import unittest

from harness import ROOT, Api, Stack
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
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage")


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
        a.d.execute_script("document.querySelector('input[name=image]').hidden = false")
        a.css("input[name=image]").send_keys(img)
        a.d.execute_script("document.querySelector('input[name=image]').hidden = true")
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
        total = 46
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

        # The access token was refreshed before it expired (ttl 70 s, 60 s early).
        a.wait("a refreshed token", lambda: a.token() != token_at_login, timeout=30)

        # Nothing the page needed was refused by its CSP.
        for u in (a, b):
            logs = u.d.get_log("browser")
            bad = [e["message"] for e in logs if "Content Security Policy" in e["message"]
                   or "Refused to" in e["message"]]
            self.assertEqual(bad, [], u.name)

        # Log out: back to the sign-in form.
        a.d.set_window_size(*LAPTOP)
        a.click("button[name=logout]")
        a.wait_css("button[name=submit]", "Sign in")
        for s in shots:
            self.assertGreater(os.path.getsize(s), 10000, s)
        print("\nbrowser: chat scenario %.1fs; screenshots: %s" % (time.monotonic() - t0, ", ".join(map(os.path.basename, shots))))


if __name__ == "__main__":
    unittest.main()
