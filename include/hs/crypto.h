/* statusd — randomness and keyed tokens (src/core/crypto.c).
 *
 * Ownership: every function writes into the caller's memory and keeps nothing but the process's
 * MAC key (drawn once, never exposed). All are safe from any thread. */
#ifndef HS_CRYPTO_H
#define HS_CRYPTO_H

#include "hs/core.h"

/* n unpredictable bytes from the kernel (getrandom(2), else /dev/urandom). Aborts when the system
 * has no entropy source at all: nothing that needs these bytes can work without one. */
void hs_random(void *p, size_t n);
/* A uniform double in [0, 1) from hs_random (53 bits). */
double hs_random_unit(void);

/* A seeded, reproducible generator (splitmix64): the same seed gives the same bytes on every
 * machine and release — for bodies a client can ask for again by seed, never for secrets. */
typedef struct hs_prng_s {
    uint64_t s; /* the seed, then the state */
} hs_prng_t;
uint64_t hs_prng_next(hs_prng_t *g);
void hs_prng_fill(hs_prng_t *g, void *p, size_t n);

/* HMAC-SHA-256 of data under a key drawn at the first use and kept for the life of the process,
 * as `hexlen` lowercase hex digits (at most 64) and a NUL into out. For stateless tokens (job
 * ids, sessions, digest nonces) that any worker of this process can verify. */
void hs_mac_hex(const void *data, size_t n, char *out, size_t hexlen);

#endif
