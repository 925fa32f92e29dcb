#!/usr/bin/python3
"""run.py - the browser tests (tests/browser/test_*.py): a natter stack
(tests/stack/harness.py) and headless Chromium driven by chromedriver
through python3-selenium, all from Debian's packages (nothing downloaded).

    /usr/bin/python3 tests/browser/run.py [--natter build-test/natter] [--out DIR] [-v]

Screenshots go to DIR (default var/test-output/browser/).  As root it
re-runs itself, stack included, in a new network namespace with only `lo`
up (`unshare -n`), so WebRTC between the two browsers cannot leave
loopback (docs/web.md "The browser test"); NATTER_BROWSER_NETNS says which
(1: inside, 0: not possible here, the call step then fails).  Prints

    browser: Tested: N | Passing: P | Failing: F

and exits non-zero on any failure, or when no test ran.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def enter_netns():
    """exec this script again under `unshare -n` with lo up; returns only
    when that is not possible (then the call step fails, saying why)."""
    if "NATTER_BROWSER_NETNS" in os.environ:
        return
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        os.environ["NATTER_BROWSER_NETNS"] = "0"
        print("browser: not root or no unshare/ip: running outside a network namespace", file=sys.stderr)
        return
    # A container without CAP_SYS_ADMIN refuses new namespaces: find out
    # here, so the failure is named instead of a bare exit status.
    probe = subprocess.run(["unshare", "-n", "--", "ip", "link", "set", "lo", "up"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if probe.returncode != 0:
        os.environ["NATTER_BROWSER_NETNS"] = "0"
        print("browser: cannot make a network namespace here (%s): running outside one"
              % probe.stderr.strip(), file=sys.stderr)
        return
    os.environ["NATTER_BROWSER_NETNS"] = "1"
    sys.stdout.flush()
    os.execvp("unshare", ["unshare", "-n", "--", "/bin/sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                          sys.executable, os.path.abspath(__file__)] + sys.argv[1:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--natter", default=os.path.join(ROOT, "build-test", "natter"))
    ap.add_argument("--out", default=os.path.join(ROOT, "var", "test-output", "browser"))
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("tests", nargs="*")
    a = ap.parse_args()
    enter_netns()
    natter = os.path.abspath(a.natter)
    if not os.access(natter, os.X_OK):
        print("browser: no natter binary at %s (build it first)" % natter, file=sys.stderr)
        return 2
    os.environ["NATTER_BIN"] = natter
    os.environ["NATTER_TEST_OUTPUT"] = os.path.abspath(a.out)
    os.makedirs(a.out, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.path.insert(0, os.path.join(ROOT, "tests", "stack"))
    sys.path.insert(0, HERE)
    loader = unittest.TestLoader()
    suite = (loader.loadTestsFromNames(a.tests) if a.tests
             else loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE))
    t0 = time.monotonic()
    result = unittest.TextTestRunner(verbosity=2 if a.verbose else 1, stream=sys.stdout).run(suite)
    failing = len(result.failures) + len(result.errors)
    passing = result.testsRun - failing - len(result.skipped)
    print("\nbrowser: Tested: %d | Passing: %d | Failing: %d | Skipped: %d (%.1fs)"
          % (result.testsRun, passing, failing, len(result.skipped), time.monotonic() - t0))
    print("browser: screenshots in %s" % a.out)
    if result.testsRun == 0:
        return 1
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
