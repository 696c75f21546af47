/* SPDX-License-Identifier: MIT */
/* Helpers shared by the php_serial tests and fuzz_php_unserialize: compare
 * two msgpack trees (floats by their bits, so NAN equals NAN and -0 differs
 * from 0), and measure what a tree takes in its zone. */
#ifndef WM_PHP_TREE_H
#define WM_PHP_TREE_H

#include <stdbool.h>
#include <string.h>

#include <msgpack.h>

static inline bool php_tree_equal(const msgpack_object *a, const msgpack_object *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case MSGPACK_OBJECT_NIL:
        return true;
    case MSGPACK_OBJECT_BOOLEAN:
        return a->via.boolean == b->via.boolean;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return a->via.u64 == b->via.u64;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return a->via.i64 == b->via.i64;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return memcmp(&a->via.f64, &b->via.f64, sizeof a->via.f64) == 0;
    case MSGPACK_OBJECT_STR:
        return a->via.str.size == b->via.str.size &&
               (a->via.str.size == 0 ||
                memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0);
    case MSGPACK_OBJECT_BIN:
        return a->via.bin.size == b->via.bin.size &&
               (a->via.bin.size == 0 ||
                memcmp(a->via.bin.ptr, b->via.bin.ptr, a->via.bin.size) == 0);
    case MSGPACK_OBJECT_ARRAY:
        if (a->via.array.size != b->via.array.size)
            return false;
        for (uint32_t i = 0; i < a->via.array.size; i++)
            if (!php_tree_equal(&a->via.array.ptr[i], &b->via.array.ptr[i]))
                return false;
        return true;
    case MSGPACK_OBJECT_MAP:
        if (a->via.map.size != b->via.map.size)
            return false;
        for (uint32_t i = 0; i < a->via.map.size; i++)
            if (!php_tree_equal(&a->via.map.ptr[i].key, &b->via.map.ptr[i].key) ||
                !php_tree_equal(&a->via.map.ptr[i].val, &b->via.map.ptr[i].val))
                return false;
        return true;
    default:
        return false;
    }
}

/* Bytes the tree below o (not o itself) takes: element arrays and strings. */
static inline size_t php_tree_bytes(const msgpack_object *o)
{
    size_t n = 0;
    switch (o->type) {
    case MSGPACK_OBJECT_STR:
        return o->via.str.size;
    case MSGPACK_OBJECT_ARRAY:
        n = o->via.array.size * sizeof(msgpack_object);
        for (uint32_t i = 0; i < o->via.array.size; i++)
            n += php_tree_bytes(&o->via.array.ptr[i]);
        return n;
    case MSGPACK_OBJECT_MAP:
        n = o->via.map.size * sizeof(msgpack_object_kv);
        for (uint32_t i = 0; i < o->via.map.size; i++)
            n += php_tree_bytes(&o->via.map.ptr[i].key) + php_tree_bytes(&o->via.map.ptr[i].val);
        return n;
    default:
        return 0;
    }
}

#endif
