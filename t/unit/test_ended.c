/* ended: the table of sids Entra ended (capacity, expiry, eviction order,
 * rate limit), on plain memory. */
#include "unit.h"
#include "../../src/ended.h"

#include <apr_strings.h>
#include <stdlib.h>

static void hash_of(unsigned n, unsigned char *h)
{
    unsigned x = n * 2654435761u, i;

    for (i = 0; i < 16; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        h[i] = (unsigned char)(x >> 8);
    }
}

static void test_capacity(apr_pool_t *p)
{
    apr_uint32_t slots = ENTRA_ENDED_SLOTS;
    entra_ended_table *t = entra_ended_table_init(apr_palloc(p, entra_ended_table_size(slots)),
                                                  slots);
    unsigned char h[16];
    unsigned i, lost = 0, missing = 0;

    CHECK(entra_ended_table_count(t) == 0, "a new table: nothing ended (fast path)");
    for (i = 0; i < 100000; i++) {
        hash_of(i, h);
        lost += !entra_ended_table_add(t, h, 5000, 1000);
    }
    for (i = 0; i < 100000; i++) {
        hash_of(i, h);
        missing += !entra_ended_table_has(t, h, 1000);
    }
    CHECK(lost == 0 && missing == 0, "100,000 sids: all kept (%u dropped, %u missing)", lost,
          missing);
    CHECK(entra_ended_table_count(t) == 100000, "... counted");
    hash_of(123456789, h);
    CHECK(!entra_ended_table_has(t, h, 1000), "a sid never added is not there");
    hash_of(7, h);
    CHECK(!entra_ended_table_has(t, h, 5000), "... nor one past its end");
}

static void test_eviction(apr_pool_t *p)
{
    /* 64 slots: one window; every entry lands in it */
    entra_ended_table *t = entra_ended_table_init(apr_palloc(p, entra_ended_table_size(64)), 64);
    unsigned char h[16];
    unsigned i, live = 0;

    for (i = 0; i < 64; i++) {
        hash_of(i, h);
        entra_ended_table_add(t, h, i == 10 ? 2000 : i % 2 ? 3000 : 9000, 1000);
    }
    hash_of(1000, h);
    CHECK(!entra_ended_table_add(t, h, 9000, 1000), "a full window: a live entry has to go");
    hash_of(10, h);
    CHECK(!entra_ended_table_has(t, h, 1000), "... the one nearest its end");
    hash_of(11, h);
    CHECK(entra_ended_table_has(t, h, 1000), "... and no other");
    hash_of(2000, h);
    CHECK(entra_ended_table_add(t, h, 9500, 5000) && entra_ended_table_has(t, h, 5000),
          "past some ends: an expired entry is reused, no live one goes");
    for (i = 0; i < 64; i += 2) {
        hash_of(i, h);
        live += i != 10 && entra_ended_table_has(t, h, 5000);
    }
    CHECK(live == 31, "... every live one is still there (%u of 31)", live);
    hash_of(2000, h);
    entra_ended_table_add(t, h, 12000, 5000);
    CHECK(entra_ended_table_has(t, h, 11000), "added again: kept to the later end");
}

static void test_rate(apr_pool_t *p)
{
    entra_ended_table *t = entra_ended_table_init(apr_palloc(p, entra_ended_table_size(64)), 64);
    int i, admitted = 0;

    for (i = 0; i < 1000; i++)
        admitted += entra_ended_table_admit(t, 5000);
    CHECK(admitted == ENTRA_ENDED_RATE, "a burst in one second: %d admitted (want %d)",
          admitted, ENTRA_ENDED_RATE);
    CHECK(entra_ended_table_admit(t, 5001), "the next second: admitted again");
}

void suite_ended(apr_pool_t *p)
{
    test_capacity(p);
    test_eviction(p);
    test_rate(p);
}
