/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the PHP unserializer (common/src/php_serial.h).
 * The input is one PHP serialize() value. When it decodes:
 *   - the tree takes at most 8 bytes per input byte (counts are checked
 *     against the bytes left before anything is allocated);
 *   - serialize() of it succeeds, reads back as the same tree (floats by
 *     their bits), and serializing that gives the same bytes again;
 *   - its md5 is 32 hex digits.
 * When it does not, the error is WM_EPROTO with a reason. The input is
 * copied into a buffer of exactly its size, so ASan sees any read past it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "php_serial.h"
#include "php_tree.h"
#include "wm/error.h"

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_php_unserialize: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size ? size : 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    msgpack_zone *zone = msgpack_zone_new(1024);
    msgpack_object obj;
    const char *why = NULL;
    int rc = wm__php_unserialize(in, size, zone, &obj, &why);
    free(in); /* the tree must not point into the input */
    if (rc != WM_OK) {
        if (rc != WM_EPROTO || !why)
            fail("an error that is not WM_EPROTO with a reason");
        msgpack_zone_free(zone);
        return 0;
    }
    if (php_tree_bytes(&obj) > 8 * size)
        fail("the tree takes more than 8 bytes per input byte");

    msgpack_sbuffer once, twice;
    msgpack_sbuffer_init(&once);
    msgpack_sbuffer_init(&twice);
    if (wm__php_serialize(&obj, &once) != WM_OK)
        fail("a decoded tree does not serialize");
    msgpack_zone *zone2 = msgpack_zone_new(1024);
    msgpack_object again;
    if (wm__php_unserialize(once.data, once.size, zone2, &again, &why) != WM_OK)
        fail("serialize() output does not read back");
    if (!php_tree_equal(&obj, &again))
        fail("serialize() output reads back as another tree");
    if (wm__php_serialize(&again, &twice) != WM_OK || twice.size != once.size ||
        memcmp(twice.data, once.data, once.size) != 0)
        fail("serialize() is not stable");
    char md5[33];
    wm__php_serialize_md5_hex(&obj, md5);
    if (strlen(md5) != 32 || strspn(md5, "0123456789abcdef") != 32)
        fail("md5 is not 32 hex digits");

    msgpack_sbuffer_destroy(&once);
    msgpack_sbuffer_destroy(&twice);
    msgpack_zone_free(zone2);
    msgpack_zone_free(zone);
    return 0;
}
