/* SPDX-License-Identifier: MIT */
/* Helpers shared by wm_ws_tests' cases: a raw WebSocket client on a
 * nonblocking socket (bytes on the wire are what is checked; the loop is
 * pumped while waiting), frame building, and running the loop until a
 * condition holds. */
#ifndef WS_UTIL_H
#define WS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wm_test.h"

#define RAW_BUF (1 << 20)

typedef struct raw {
    int fd;
    uint8_t *buf;
    size_t len;
    bool eof;
} raw_t;

/* One frame read by the raw client (a server's: unmasked). */
typedef struct raw_frame {
    bool fin;
    int opcode;
    uint8_t data[70000];
    size_t len;
} raw_frame_t;

uint64_t wt_now_ms(void);
/* Runs the loop until pred(arg) or `ms` pass (then fails, naming `what`). */
void wt_run_until(bool (*pred)(void *), void *arg, uint64_t ms, const char *what);
void wt_run_for(uint64_t ms);
bool wt_flag(void *flag); /* *(bool *)flag */

raw_t *raw_connect(uint16_t port);
void raw_free(raw_t *r);
void raw_send(raw_t *r, const void *data, size_t len);
#define RAW_SEND(r, lit) raw_send((r), (lit), sizeof(lit) - 1)
/* Waits until the buffer holds `text` (fails after 3 s). */
void raw_wait_text(raw_t *r, const char *text);
void raw_wait_eof(raw_t *r);
/* Sends a valid opening handshake (with `extra` header lines) to `path` and
 * reads the 101; the buffer then holds what follows it. */
void raw_handshake(raw_t *r, const char *path, const char *extra);
/* Reads one answer head: returns its status; the head (NUL-terminated) is
 * copied to head[cap]; the buffer keeps what follows. */
int raw_read_head(raw_t *r, char *head, size_t cap);
/* Sends one frame; masked with a fixed key when `masked`. */
void raw_send_frame(raw_t *r, bool fin, int opcode, const void *data, size_t len, bool masked);
/* Waits for and removes one whole frame from the buffer. */
void raw_read_frame(raw_t *r, raw_frame_t *f);
/* The close code of a close frame's payload (1005 when empty). */
int raw_close_code(const raw_frame_t *f);

#endif
