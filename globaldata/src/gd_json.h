/* SPDX-License-Identifier: MIT */
/* JSON <-> MessagePack for globaldata-cli's values (gd_json.c says how each
 * type maps). Private to globaldata; the fuzz target fuzz_gd_json runs both
 * directions. */
#ifndef WM_GD_JSON_H
#define WM_GD_JSON_H

#include <msgpack.h>
#include <wm/json.h>

#include "gd_int.h"

/* Parses `len` bytes of JSON and appends the value as one MessagePack
 * object to `out`. Returns WM_OK; WM_EPROTO (not JSON, or nested deeper
 * than the server takes), WM_EMSGSIZE or WM_ENOMEM with `err` (may be NULL)
 * saying where and why, and `out` unchanged. */
int wm__gd_json_to_msgpack(const char *json, size_t len, msgpack_sbuffer *out,
                           wm_json_error_t *err);

/* Writes the MessagePack object mp[0, len) as one JSON value to `w`.
 * Returns WM_OK; WM_EPROTO when the bytes are not exactly one well-formed
 * object (nested at most WM_GD_MAX_DEPTH deep); or the writer's error. */
int wm__gd_msgpack_to_json(const char *mp, size_t len, wm_json_writer_t *w);

#endif
