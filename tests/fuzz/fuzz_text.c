/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the text protocol (one message per line): random
 * bytes in random reads, see fuzz_codec.h. A message that ends in "\r"
 * cannot round-trip (the "\r" would be taken for part of "\r\n"). */
#include "fuzz_codec.h"

static bool text_roundtrip_ok(const wm_msg_t *m)
{
    return m->len == 0 || m->data[m->len - 1] != '\r';
}

WM_FUZZ_QUIET_INIT()

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Slack 2: a line of max_package bytes may wait for its "\r\n". */
    static const wm_fuzz_codec_t fc = {&wm_protocol_text, true, text_roundtrip_ok, 2};
    return wm_fuzz_codec_run(&fc, data, size);
}
