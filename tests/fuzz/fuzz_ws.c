/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the WebSocket frame codec (libwm/src/ws_frame.h):
 * the input is a stream of frames, read by a server's reader and by a
 * client's (tests/ws_frame/ws_driver.h), each once whole and twice in random
 * pieces, once calling the reader after every piece and once only when its
 * ev.need is reached. All three logs of a role must be equal; the driver
 * aborts on a span outside the buffer or the assembly buffer, more consumed
 * than given, a need past max message + 14, an assembly buffer past the max
 * message size, a text message that is not UTF-8, a close code outside the
 * valid set, or an error that does not stick.
 * Byte 0 picks the max message size, bytes 1-2 seed the piece sizes. */
#include "fuzz_codec.h"

#include "../ws_frame/ws_driver.h"

/* Piece sizes like fuzz_codec.h's: often 1 byte, sometimes a few, sometimes
 * hundreds. */
static size_t fuzz_piece(void *arg)
{
    uint32_t x = wm_fuzz_rand(arg);
    return x % 4 == 0 ? 1 : x % 4 == 1 ? 1 + (x >> 8) % 8 : 1 + (x >> 8) % 600;
}

WM_FUZZ_QUIET_INIT()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    /* Small limits, so that inputs reach them: 1 B .. 4 KiB. */
    size_t max_message = (size_t)1 << (data[0] % 13);
    uint32_t seed0 = ((uint32_t)data[1] << 8 | data[2]) + 1;
    const uint8_t *in = data + 3;
    size -= 3;

    for (int server = 0; server < 2; server++) {
        char *whole = ws_drv_run(in, size, server, max_message, false, NULL, NULL);
        uint32_t seed = seed0;
        char *pieces = ws_drv_run(in, size, server, max_message, false, fuzz_piece, &seed);
        seed = seed0 * 2654435761u + 1;
        char *needed = ws_drv_run(in, size, server, max_message, true, fuzz_piece, &seed);
        if (strcmp(whole, pieces) != 0 || strcmp(whole, needed) != 0) {
            fprintf(stderr, "--- %s, whole:\n%s--- pieces:\n%s--- needed:\n%s",
                    server ? "server" : "client", whole, pieces, needed);
            abort();
        }
        free(whole);
        free(pieces);
        free(needed);
    }
    return 0;
}
