#!/usr/bin/python3
"""run.py - run the stack tests (tests/stack/test_*.py) against a natter binary.

    /usr/bin/python3 tests/stack/run.py [--natter build-test/natter] [-v] [-k PATTERN] [TEST ...]

TEST may be a module, class or method name (test_auth, test_auth.AuthTest,
test_auth.AuthTest.test_login).  Prints a summary line

    stack: Tested: N | Passing: P | Failing: F

and exits non-zero on any failure, or when no test ran.  Each test class
starts its own servers on free loopback ports (harness.py), so nothing here
touches an ops/up stack that may be running.
"""

import argparse
import os
import signal
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--natter", default=os.path.join(ROOT, "build-test", "natter"),
                    help="the natter binary (default build-test/natter)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-k", dest="patterns", action="append",
                    help="only tests whose name contains this (unittest -k)")
    ap.add_argument("-f", "--failfast", action="store_true")
    ap.add_argument("tests", nargs="*")
    a = ap.parse_args()

    natter = os.path.abspath(a.natter)
    if not os.access(natter, os.X_OK):
        print("stack: no natter binary at %s (build it first)" % natter, file=sys.stderr)
        return 2
    os.environ["NATTER_BIN"] = natter

    # SIGTERM (a CI timeout) becomes SystemExit, so atexit tears the stacks down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    sys.path.insert(0, HERE)
    loader = unittest.TestLoader()
    if a.patterns:
        loader.testNamePatterns = ["*%s*" % p for p in a.patterns]
    if a.tests:
        suite = loader.loadTestsFromNames(a.tests)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)

    t0 = time.monotonic()
    runner = unittest.TextTestRunner(verbosity=2 if a.verbose else 1, failfast=a.failfast,
                                     stream=sys.stdout)
    result = runner.run(suite)
    dt = time.monotonic() - t0

    tested = result.testsRun
    skipped = len(result.skipped)
    failing = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passing = max(tested - failing - skipped - len(result.expectedFailures), 0)
    print()
    print("stack: Tested: %d | Passing: %d | Failing: %d | Skipped: %d (%.1fs)"
          % (tested, passing, failing, skipped, dt))
    print("stack: %d passed, %d failed" % (passing, failing))
    if tested == 0:
        print("stack: no test ran", file=sys.stderr)
        return 1
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
