/* statusd — randomness and keyed tokens.
 *
 * Random bytes come straight from the kernel: getrandom(2) blocks only until the pool has been
 * initialised once after boot, and /dev/urandom serves kernels older than 3.17. The MAC key is
 * drawn from the same source on first use (pthread_once), so tokens made by one worker verify
 * on every other and none survive a restart. */
#define _GNU_SOURCE
#include "hs/crypto.h"

#include "hs/codec.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <sys/random.h>
#include <unistd.h>

static bool urandom(unsigned char *p, size_t n)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    return got == n;
}

void hs_random(void *p, size_t n)
{
    unsigned char *b = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(b + got, n - got, 0);
        if (r > 0) {
            got += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (urandom(b + got, n - got))
            return;
        hs_log_error("no source of random bytes (getrandom: %s)", strerror(errno));
        abort();
    }
}

double hs_random_unit(void)
{
    uint64_t v;
    hs_random(&v, sizeof(v));
    return (double)(v >> 11) / (double)(1ULL << 53);
}

uint64_t hs_prng_next(hs_prng_t *g)
{
    uint64_t z = (g->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void hs_prng_fill(hs_prng_t *g, void *p, size_t n)
{
    unsigned char *b = p;
    size_t i = 0;
    while (i < n) {
        uint64_t v = hs_prng_next(g);
        for (int k = 0; k < 8 && i < n; k++, v >>= 8)
            b[i++] = (unsigned char)v;
    }
}

static unsigned char mac_key[32];
static pthread_once_t mac_once = PTHREAD_ONCE_INIT;

static void mac_key_init(void)
{
    hs_random(mac_key, sizeof(mac_key));
}

void hs_mac_hex(const void *data, size_t n, char *out, size_t hexlen)
{
    pthread_once(&mac_once, mac_key_init);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), mac_key, sizeof(mac_key), data, n, md, &mdlen);
    char full[2 * EVP_MAX_MD_SIZE + 1];
    hs_hex_encode(full, md, mdlen);
    if (hexlen > 2 * (size_t)mdlen)
        hexlen = 2 * (size_t)mdlen;
    memcpy(out, full, hexlen);
    out[hexlen] = '\0';
}
