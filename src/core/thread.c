/* statusd — per-thread objects (hs_tls_t): one zeroed object per worker thread and kind, made on
 * first use and destroyed when the thread exits. One pthread key per kind, created lazily under
 * a lock (a handful of kinds exist, so keys never run out). */
#define _GNU_SOURCE
#include "hs/core.h"

#include <stdlib.h>

static pthread_mutex_t tls_mu = PTHREAD_MUTEX_INITIALIZER;

void *hs_tls_get(hs_tls_t *t)
{
    if (!atomic_load_explicit(&t->ready, memory_order_acquire)) {
        pthread_mutex_lock(&tls_mu);
        if (!atomic_load_explicit(&t->ready, memory_order_relaxed)) {
            if (pthread_key_create(&t->key, t->destroy) != 0)
                abort(); /* out of keys: a programming error (a handful are used) */
            atomic_store_explicit(&t->ready, true, memory_order_release);
        }
        pthread_mutex_unlock(&tls_mu);
    }
    void *obj = pthread_getspecific(t->key);
    if (!obj) {
        obj = hs_calloc(1, t->size);
        pthread_setspecific(t->key, obj);
    }
    return obj;
}
