"""test_ws_inbox.py - the WebSocket edge with nats.inline = 0.

edge-ws handles pushes and request replies on its loop as nats.c reads them
(bus_inline, docs/ws.md "Threads"); when that is unavailable (a libnats
without the message filter) or turned off, every message takes the older
way: nats.c's delivery thread, the inbox queue and a uv_async wake-up.  So
that fallback stays correct, this module runs test_ws's WsTest (requests,
pushes, resends, slow readers, sockets closing under a push stream, a stop
under traffic) and test_ws_e2e's end-to-end test (real pools, kicks) again
with nats.inline = 0 for every role.  WsTest's
test_bus_messages_take_the_configured_path checks, by the edge's
/metrics, that the messages really took the queue here (and the loop in
test_ws.py).  Cost: about as long as those two modules.
"""

import test_ws
import test_ws_e2e

INBOX_ENV = {"NATTER_NATS_INLINE": "0"}


class WsInboxPathTest(test_ws.WsTest):
    stack_env = INBOX_ENV
    INLINE = False


class WsEndToEndInboxPathTest(test_ws_e2e.WsEndToEndTest):
    stack_env = INBOX_ENV
