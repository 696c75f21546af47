/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the frame protocol (4-byte big-endian length that
 * counts itself, then the payload): random bytes in random reads, see
 * fuzz_codec.h. Every payload must round-trip through encode. */
#include "fuzz_codec.h"

WM_FUZZ_QUIET_INIT()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Slack 0: a frame's length is known from its first 4 bytes. */
    static const wm_fuzz_codec_t fc = {&wm_protocol_frame, true, NULL, 0};
    return wm_fuzz_codec_run(&fc, data, size);
}
