/* statusd — hierarchical timer wheel: O(1) link/unlink, no scans of pending timers.
 *
 * Level k has 64 slots of width 64^k ms. A timer due `delta` ms after `last` goes to the
 * lowest level whose span covers delta, in the slot given by the bits of its absolute due time;
 * when the clock reaches the start of a higher-level slot, that slot's timers cascade down. */
#include "hs/loop.h"

static inline void list_init(hs_timer_t *h)
{
    h->next = h->prev = h;
}

void hs_wheel_init(hs_wheel_t *w, uint64_t now)
{
    w->last = now;
    w->count = 0;
    for (int l = 0; l < HS_WHEEL_LEVELS; l++) {
        w->bitmap[l] = 0;
        for (int s = 0; s < HS_WHEEL_SLOTS; s++)
            list_init(&w->slots[l][s]);
    }
}

static void insert(hs_wheel_t *w, hs_timer_t *t)
{
    /* Place relative to `base`, the next tick hs_wheel_run will process (w->last + 1), not to
     * w->last: during a cascade at tick T, w->last is still T-1 while slot T is being emptied,
     * so a timer due at the last ms of that slot (delta from w->last = 64^l) would go back into
     * the very slot being cascaded and sleep a whole extra lap (64^(l+1) ms late). Measured
     * from base, a level-l timer always lands in a slot that starts after base. */
    uint64_t base = w->last + 1;
    uint64_t at = t->at < base ? base : t->at;
    uint64_t delta = at - base;
    int level = 0;
    while (level < HS_WHEEL_LEVELS - 1 && delta >= (1ull << (HS_WHEEL_BITS * (level + 1))))
        level++;
    if (level == HS_WHEEL_LEVELS - 1 && delta >= (1ull << (HS_WHEEL_BITS * HS_WHEEL_LEVELS))) {
        /* Beyond the span: park it in the farthest slot; it is re-inserted when that slot
         * cascades. t->at keeps the real due time (overwriting it made the timer fire early). */
        at = base + (1ull << (HS_WHEEL_BITS * HS_WHEEL_LEVELS)) - 1;
    }
    unsigned slot = (unsigned)(at >> (HS_WHEEL_BITS * level)) & (HS_WHEEL_SLOTS - 1);
    hs_timer_t *h = &w->slots[level][slot];
    t->prev = h->prev;
    t->next = h;
    h->prev->next = t;
    h->prev = t;
    w->bitmap[level] |= 1ull << slot;
}

void hs_timer_link(hs_wheel_t *w, hs_timer_t *t, uint64_t at)
{
    if (t->next)
        hs_timer_unlink(w, t);
    t->at = at;
    insert(w, t);
    w->count++;
}

void hs_timer_unlink(hs_wheel_t *w, hs_timer_t *t)
{
    if (!t->next)
        return;
    hs_timer_t *next = t->next;
    t->prev->next = next;
    next->prev = t->prev;
    t->next = t->prev = NULL;
    w->count--;
    if (next == next->next) {
        /* the slot may now be empty: find it from the list head and clear its bit */
        for (int l = 0; l < HS_WHEEL_LEVELS; l++) {
            if (next >= &w->slots[l][0] && next < &w->slots[l][HS_WHEEL_SLOTS]) {
                w->bitmap[l] &= ~(1ull << (next - &w->slots[l][0]));
                break;
            }
        }
    }
}

static void cascade(hs_wheel_t *w, int level, unsigned slot)
{
    hs_timer_t *h = &w->slots[level][slot];
    hs_timer_t *t = h->next;
    list_init(h);
    w->bitmap[level] &= ~(1ull << slot);
    while (t != h) {
        hs_timer_t *next = t->next;
        insert(w, t);
        t = next;
    }
}

size_t hs_wheel_run(hs_wheel_t *w, uint64_t now)
{
    size_t ran = 0;
    while (w->last < now) {
        if (w->count == 0) {
            w->last = now;
            break;
        }
        uint64_t tick = w->last + 1;
        /* cascade from the highest level whose slot boundary this tick is */
        for (int l = HS_WHEEL_LEVELS - 1; l >= 1; l--) {
            uint64_t mask = (1ull << (HS_WHEEL_BITS * l)) - 1;
            if ((tick & mask) == 0) {
                unsigned slot = (unsigned)(tick >> (HS_WHEEL_BITS * l)) & (HS_WHEEL_SLOTS - 1);
                if (w->bitmap[l] & (1ull << slot))
                    cascade(w, l, slot);
            }
        }
        unsigned slot0 = (unsigned)tick & (HS_WHEEL_SLOTS - 1);
        w->last = tick;
        hs_timer_t *h = &w->slots[0][slot0];
        while (h->next != h) {
            hs_timer_t *t = h->next;
            hs_timer_unlink(w, t);
            t->cb(t);
            ran++;
        }
        if (!(w->bitmap[0]) && w->count > 0) {
            /* nothing on level 0: jump to the next level-1 boundary (skips idle ticks) */
            uint64_t next = (tick | (HS_WHEEL_SLOTS - 1)); /* last tick before the boundary */
            if (next > w->last && next < now)
                w->last = next;
        }
    }
    return ran;
}

int64_t hs_wheel_timeout(const hs_wheel_t *w, uint64_t now)
{
    if (w->count == 0)
        return -1;
    uint64_t best = UINT64_MAX;
    for (int l = 0; l < HS_WHEEL_LEVELS; l++) {
        uint64_t bm = w->bitmap[l];
        if (!bm)
            continue;
        unsigned shift = HS_WHEEL_BITS * (unsigned)l;
        uint64_t cur = w->last >> shift;
        /* first non-empty slot at or after the current position (wrapping) */
        unsigned pos = (unsigned)(cur & (HS_WHEEL_SLOTS - 1));
        uint64_t rot = (bm >> pos) | (pos ? bm << (HS_WHEEL_SLOTS - pos) : 0);
        unsigned d = (unsigned)__builtin_ctzll(rot);
        if (l > 0 && d == 0)
            d = HS_WHEEL_SLOTS; /* the current higher-level slot was already cascaded: next lap */
        uint64_t start = (cur + d) << shift;
        if (l == 0 && d == 0)
            start = w->last + 1;
        if (start < best)
            best = start;
    }
    if (best <= now)
        return 0;
    return (int64_t)(best - now);
}
