/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the JSON parser and writer (wm/json.h): parse the
 * input (depth limit from byte 0: 1..64); if it parses, write it back and
 * parse that again: the tree must be the same, and the written text must
 * be a fixed point (writing the second tree gives the same bytes). A
 * failure must come with an offset inside the input and a reason. */
#include <stdio.h>
#include <stdlib.h>

#include "json_tree.h"
#include "wm/wm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    wm_json_opts_t o = {.max_depth = 1 + data[0] % 64};
    const char *text = (const char *)data + 1;
    size--;
    wm_json_doc_t *a = NULL, *b = NULL;
    wm_json_error_t e;
    int rc = wm_json_parse(text, size, &o, &a, &e);
    if (rc != WM_OK) {
        if (a || e.offset > size || !e.reason[0] || (rc != WM_EPROTO && rc != WM_ENOMEM))
            abort();
        return 0;
    }
    wm_json_writer_t *w1 = wm_json_writer_new(), *w2 = wm_json_writer_new();
    if (wm_json_write_value(w1, wm_json_root(a)) != WM_OK || !wm_json_writer_done(w1))
        abort();
    size_t l1, l2;
    const char *t1 = wm_json_writer_text(w1, &l1);
    if (wm_json_parse(t1, l1, &o, &b, &e) != WM_OK) {
        fprintf(stderr, "written text refused at %zu: %s\n%.*s\n", e.offset, e.reason, (int)l1, t1);
        abort();
    }
    if (!json_equal(wm_json_root(a), wm_json_root(b)))
        abort();
    if (wm_json_write_value(w2, wm_json_root(b)) != WM_OK)
        abort();
    const char *t2 = wm_json_writer_text(w2, &l2);
    if (l1 != l2 || memcmp(t1, t2, l1) != 0)
        abort();
    wm_json_writer_free(w1);
    wm_json_writer_free(w2);
    wm_json_doc_free(a);
    wm_json_doc_free(b);
    return 0;
}
