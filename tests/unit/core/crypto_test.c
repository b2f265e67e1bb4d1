/* Unit tests: randomness and keyed tokens (src/core/crypto.c). */
#define _GNU_SOURCE
#include "hs/crypto.h"
#include "tap.h"

int main(void)
{
    /* splitmix64's published first outputs for seed 0 (the API's ?seed= bodies depend on them) */
    hs_prng_t g = {0};
    ok(hs_prng_next(&g) == 0xe220a8397b1dcdafULL, "prng: first output for seed 0");
    ok(hs_prng_next(&g) == 0x6e789e6aa1b965f4ULL, "prng: second output for seed 0");
    hs_prng_t a = {42}, b = {42};
    unsigned char x[37], y[37];
    hs_prng_fill(&a, x, sizeof(x));
    hs_prng_fill(&b, y, sizeof(y));
    ok(memcmp(x, y, sizeof(x)) == 0, "prng: the same seed, the same bytes");
    hs_prng_t c = {42};
    uint64_t first = hs_prng_next(&c);
    ok(memcmp(x, &first, 8) == 0, "prng: bytes are the outputs, little end first");

    unsigned char r1[32] = {0}, r2[32] = {0}, zero[32] = {0};
    hs_random(r1, sizeof(r1));
    hs_random(r2, sizeof(r2));
    ok(memcmp(r1, zero, 32) != 0 && memcmp(r1, r2, 32) != 0, "random: 32 bytes, not zero, not repeated");
    hs_random(NULL, 0);
    ok(1, "random: nothing asked, nothing written");
    bool in_range = true;
    for (int i = 0; i < 1000; i++) {
        double u = hs_random_unit();
        in_range = in_range && u >= 0 && u < 1;
    }
    ok(in_range, "random_unit in [0, 1)");

    char m1[65], m2[65], m3[65], m4[80];
    hs_mac_hex("token", 5, m1, 32);
    hs_mac_hex("token", 5, m2, 32);
    hs_mac_hex("tokeN", 5, m3, 32);
    ok(strlen(m1) == 32 && strspn(m1, "0123456789abcdef") == 32, "mac: 32 lowercase hex digits");
    ok(strcmp(m1, m2) == 0 && strcmp(m1, m3) != 0, "mac: stable for the same data, other for other data");
    hs_mac_hex("token", 5, m4, 70);
    ok(strlen(m4) == 64 && strncmp(m4, m1, 32) == 0, "mac: at most 64 digits, a longer one extends a shorter");
    return tap_done();
}
