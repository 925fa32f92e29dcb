/*
 * thread_stack.c - see thread_stack.h.  The one place natter interposes a
 * libc function; RTLD_NEXT finds the real one (glibc's, or a sanitizer
 * runtime's wrapper of it).
 */
#include "common/thread_stack.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

static _Atomic size_t stack_floor;

typedef int (*setstacksize_fn)(pthread_attr_t *, size_t);

void thread_stack_floor_set(size_t bytes)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t p = page > 0 ? (size_t)page : 4096;
    if (bytes % p)
        bytes += p - bytes % p;
    atomic_store(&stack_floor, bytes);
}

int pthread_attr_setstacksize(pthread_attr_t *attr, size_t size)
{
    static _Atomic(setstacksize_fn) real;
    setstacksize_fn fn = atomic_load(&real);
    if (!fn) {
        /* POSIX does not let a data pointer become a function pointer;
         * dlsym's own documentation does it this way. */
        void *sym = dlsym(RTLD_NEXT, "pthread_attr_setstacksize");
        *(void **)&fn = sym;
        if (!fn)
            return ENOSYS; /* cannot happen in a glibc process */
        atomic_store(&real, fn);
    }
    size_t floor = atomic_load(&stack_floor);
    return fn(attr, size < floor ? floor : size);
}

size_t thread_stack_self(void)
{
    pthread_attr_t a;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &a) != 0)
        return 0;
    if (pthread_attr_getstacksize(&a, &size) != 0)
        size = 0;
    pthread_attr_destroy(&a);
    return size;
}
