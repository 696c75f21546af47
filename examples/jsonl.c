/* SPDX-License-Identifier: MIT */
/* example-jsonl: how to add a protocol. It registers "jsonl" (newline-
 * delimited JSON) with wm_protocol_register(), so that a worker can listen on
 * jsonl://, and answers each JSON object or array it receives with
 * {"ok":true,"bytes":N}. The codec shows the three hooks: input finds where
 * a message ends (resuming its search at ctx->scanned and refusing lines over
 * ctx->max_package), decode checks and trims one message, encode frames a
 * reply. A line that is not a JSON object or array is a protocol error: wm
 * logs it and closes the connection. The check is structural only (brackets, braces and
 * strings balanced), cheap enough to run on every line; parse values with a
 * real JSON library.
 *
 *   example-jsonl --listen jsonl://127.0.0.1:2348 start
 *   printf '{"a":[1,2]}\n' | nc 127.0.0.1 2348    ->  {"ok":true,"bytes":11}
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include <event2/buffer.h>
#include <wm/wm.h>

#define JSONL_MAX_DEPTH 64 /* deepest nesting a peer may send */

/* ---- The codec ---------------------------------------------------------- */

static ssize_t jsonl_input(struct evbuffer *in, wm_proto_ctx_t *ctx)
{
    size_t have = evbuffer_get_length(in);
    struct evbuffer_ptr from, nl;

    /* Bytes before ctx->scanned hold no newline: search only the new ones. */
    if (ctx->scanned > have)
        ctx->scanned = 0;
    evbuffer_ptr_set(in, &from, ctx->scanned, EVBUFFER_PTR_SET);
    nl = evbuffer_search(in, "\n", 1, &from);
    if (nl.pos >= 0) {
        size_t len = (size_t)nl.pos + 1;
        return len > ctx->max_package ? WM_EMSGSIZE : (ssize_t)len;
    }
    ctx->scanned = have;
    return have >= ctx->max_package ? WM_EMSGSIZE : 0;
}

static size_t skip_space(const char *p, size_t i, size_t len)
{
    while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
        i++;
    return i;
}

/* True when p[0..len) is one JSON object or array as far as brackets, braces
 * and strings go; scalars inside are not checked. */
static bool json_shape_ok(const char *p, size_t len)
{
    char want[JSONL_MAX_DEPTH]; /* the closer each open level waits for */
    size_t depth = 0, i = skip_space(p, 0, len);
    bool in_str = false;

    if (i == len || (p[i] != '{' && p[i] != '['))
        return false;
    for (; i < len; i++) {
        char ch = p[i];
        if (in_str) {
            if (ch == '\\')
                i++; /* skip the escaped character */
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '{' || ch == '[') {
            if (depth == JSONL_MAX_DEPTH)
                return false;
            want[depth++] = ch == '{' ? '}' : ']';
        } else if (ch == '}' || ch == ']') {
            if (depth == 0 || want[--depth] != ch)
                return false;
            if (depth == 0)
                return skip_space(p, i + 1, len) == len;
        }
    }
    return false; /* something was left open */
}

static int jsonl_decode(const char *pkt, size_t len, wm_msg_t *msg, wm_proto_ctx_t *ctx)
{
    len--; /* input() sized the message to end with "\n" */
    if (len > 0 && pkt[len - 1] == '\r')
        len--;
    if (!json_shape_ok(pkt, len))
        return WM_EPROTO;
    msg->data = pkt;
    msg->len = len;
    msg->extra = NULL;
    return WM_OK;
}

static int jsonl_encode(struct evbuffer *out, const void *data, size_t len, wm_proto_ctx_t *ctx)
{
    if (evbuffer_add(out, data, len) != 0 || evbuffer_add(out, "\n", 1) != 0)
        return WM_ENOMEM;
    return WM_OK;
}

static const wm_protocol_t jsonl_protocol = {
    .name = "jsonl",
    .input = jsonl_input,
    .decode = jsonl_decode,
    .encode = jsonl_encode,
};

/* ---- The server --------------------------------------------------------- */

static void on_message(wm_conn_t *c, const wm_msg_t *msg, void *user_data)
{
    char reply[64];
    int n = snprintf(reply, sizeof(reply), "{\"ok\":true,\"bytes\":%zu}", msg->len);
    wm_conn_send(c, reply, (size_t)n); /* encode adds the "\n" */
}

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [OPTIONS] [start|stop|restart|reload|status|connections] [-d|-g]\n"
            "Answers each line of JSON (an object or array) with {\"ok\":true,\"bytes\":N}.\n"
            "  --listen URL  jsonl address to listen on (default jsonl://0.0.0.0:2348)\n"
            "  --help        this text\n"
            "Example: %s --listen jsonl://127.0.0.1:2348 start\n",
            prog, prog);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *url = "jsonl://0.0.0.0:2348";
    int opt;

    while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (opt) {
        case 'l':
            url = optarg;
            break;
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        default:
            fprintf(stderr, "Try '%s --help'.\n", argv[0]);
            return 2;
        }
    }
    /* Register before making workers: the URL's scheme is looked up then. */
    int err = wm_protocol_register(&jsonl_protocol);
    if (err != WM_OK) {
        fprintf(stderr, "%s: jsonl: %s\n", argv[0], wm_strerror(err));
        return 1;
    }
    wm_worker_t *w = wm_worker_new(url);
    if (w == NULL)
        return 1;
    wm_worker_set_name(w, "jsonl");
    wm_worker_set_max_package(w, 1024 * 1024);
    wm_worker_on_message(w, on_message, NULL);

    argv[optind - 1] = argv[0]; /* wm_run_all sees argv[0] + the command words */
    return wm_run_all(argc - optind + 1, argv + optind - 1);
}
