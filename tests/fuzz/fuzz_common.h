/*
 * fuzz_common.h - what the libFuzzer targets in tests/fuzz/ share.
 *
 * Each fuzz_<name>.c is one program (built by CMake with NATTER_FUZZ=ON and
 * clang, run by ops/fuzz) that feeds arbitrary bytes to one parser of
 * outside input and aborts when a property the code promises does not hold;
 * ASan and UBSan (always on in that build) report memory and undefined
 * behaviour errors, LeakSanitizer leaks.  docs/operations.md "Fuzzing" says
 * how to run them and where crashes go.
 */
#ifndef NT_FUZZ_COMMON_H
#define NT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* A property failed: say which, where, and abort (libFuzzer saves the
 * input as crash-<sha1>). */
#define FUZZ_CHECK(cond)                                                                          \
    do {                                                                                          \
        if (!(cond))                                                                              \
            fuzz_fail(__FILE__, __LINE__, #cond);                                                 \
    } while (0)
__attribute__((noreturn)) void fuzz_fail(const char *file, int line, const char *what);

/* Logging off (the code under test logs refusals; a fuzzer makes millions). */
void fuzz_quiet(void);

/* data[0..n) as a new NUL-terminated string (malloc'd; caller frees).
 * Embedded NULs stay: C callers see the prefix, as they would from a
 * NUL-terminated header value. */
char *fuzz_cstr(const uint8_t *data, size_t n);

/* Cut data at the first '\n' into [*part, *part_len) and advance past it;
 * the last part is whatever is left.  So a corpus file with one field a
 * line stays readable. */
void fuzz_take_line(const uint8_t **data, size_t *n, const uint8_t **part, size_t *part_len);

/* 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates). */
int fuzz_utf8_ok(const char *s, size_t n);

/* Run fn(arg) on a thread with the stack of a civetweb 1.15 worker (Debian
 * builds it with 100 KiB: pthread_attr_setstacksize(0x19000) in
 * libcivetweb.so), because that is where edge-http runs its parsers; what
 * fits on the 8 MiB main stack may not fit there (STACK.md).
 * NATTER_FUZZ_WORKER_STACK=<bytes> changes the size, 0 runs fn inline on
 * the caller's stack. */
void fuzz_on_worker_stack(void (*fn)(void *), void *arg);

#endif
