/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the form parsers behind wm_http_form_parse (here
 * mostly multipart/form-data): the input's first line is the Content-Type,
 * the rest the body; byte 0 picks small limits so that inputs reach them.
 * Uploads go to a folder made once per process. After every input the
 * folder must be empty again (the form deleted its files, and a failed
 * parse left none), a success must report files that exist with their
 * sizes, and a failure a status of 400, 413, 415 or 500 with an offset
 * inside the body. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wm/wm.h"

static char dir[64];

static void cleanup_dir(void)
{
    rmdir(dir);
}

static bool dir_is_empty(void)
{
    DIR *d = opendir(dir);
    if (!d)
        abort();
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        strcpy(dir, "/tmp/wm-fuzz-multipart.XXXXXX");
        if (!mkdtemp(dir))
            abort();
        atexit(cleanup_dir);
    }
    if (size < 1)
        return 0;
    uint8_t knobs = data[0];
    const char *in = (const char *)data + 1;
    size--;
    const char *nl = memchr(in, '\n', size < 200 ? size : 200);
    if (!nl)
        return 0;
    char type[201];
    memcpy(type, in, (size_t)(nl - in));
    type[nl - in] = '\0';
    const char *body = nl + 1;
    size_t len = size - (size_t)(body - in);
    wm_http_form_opts_t o = {.tmp_dir = dir};
    if (knobs & 1) {
        o.max_fields = 1 + (knobs >> 1 & 3);
        o.max_files = 1 + (knobs >> 3 & 3);
        o.max_field_size = 1 + (knobs >> 5) * 8;
        o.max_file_size = 1 + (knobs >> 5) * 8;
        o.max_header_size = 16 + (knobs >> 5) * 16;
    }
    wm_http_form_t *f = NULL;
    wm_http_body_error_t e;
    int rc = wm_http_form_parse_body(type, body, len, &o, &f, &e);
    if (rc == WM_OK) {
        for (size_t i = 0; i < wm_http_form_file_count(f); i++) {
            const wm_http_upload_t *u = wm_http_form_file_at(f, i);
            struct stat st;
            if (stat(u->path, &st) != 0 || (uint64_t)st.st_size != u->size || !u->name ||
                !u->filename || !u->content_type)
                abort();
        }
        for (size_t i = 0; i < wm_http_form_count(f); i++)
            if (wm_http_form_field_at(f, i)->value_len > len)
                abort();
        wm_http_form_free(f);
    } else if (f || rc >= 0 || e.offset > len ||
               (e.status != 400 && e.status != 413 && e.status != 415 && e.status != 500)) {
        fprintf(stderr, "rc %d status %d offset %zu: %s\n", rc, e.status, e.offset, e.reason);
        abort();
    }
    if (!dir_is_empty()) {
        fprintf(stderr, "files left behind in %s\n", dir);
        abort();
    }
    return 0;
}
