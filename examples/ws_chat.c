/* SPDX-License-Identifier: MIT */
/* example-ws-chat: a WebSocket chat room with its page. One program, two
 * workers: an http:// worker serves the page (examples/assets/ws_chat.html,
 * built into the binary), and a websocket:// worker relays every message a
 * browser sends to every connected browser, as JSON:
 *   {"from":"guest-3","text":"hi"}      a message
 *   {"system":"guest-3 joined"}         a join or a leave
 * With --tls CERT KEY both workers use TLS: the page comes over https and
 * connects over wss.
 *
 *   example-ws-chat --http http://0.0.0.0:8080 --ws websocket://0.0.0.0:8081 start
 *   then open http://localhost:8080/ in two browser windows.
 *
 * The room lives in one process (the websocket worker has count 1): a chat
 * spread over several processes or machines needs a channel between them,
 * which is what channel-server is for. */
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wm/wm.h>

extern const unsigned char chat_page[]; /* generated from assets/ws_chat.html */
extern const size_t chat_page_len;

#define MAX_TEXT 8192 /* bytes of one chat message */
#define PAGE_MARK "{{WS_URL}}"

typedef struct chat {
    const char *ws_scheme; /* "ws" or "wss" */
    unsigned ws_port;      /* where the page's script connects */
    wm_worker_t *ws;       /* the room */
} chat_t;

/* ---- the room (websocket worker) --------------------------------------- */

typedef struct line {
    const char *text;
    size_t len;
} line_t;

static void send_one(wm_conn_t *c, void *arg)
{
    const line_t *line = arg;
    if (wm_ws_is_open(c))
        wm_ws_send_text(c, line->text, line->len);
}

/* Sends one JSON object, {"KEY": TEXT} or {"from": FROM, "text": TEXT}, to
 * everyone in the room (wm/json.h escapes it). */
static void broadcast(wm_conn_t *from, const char *key, const char *who, const char *text,
                      size_t len)
{
    wm_json_writer_t *w = wm_json_writer_new();
    if (!w)
        return;
    wm_json_write_object_begin(w);
    if (who) {
        wm_json_write_key(w, "from");
        wm_json_write_string(w, who);
    }
    wm_json_write_key(w, key);
    wm_json_write_stringn(w, text, len);
    wm_json_write_object_end(w);
    line_t line = {NULL, 0};
    line.text = wm_json_writer_text(w, &line.len);
    if (line.text) /* NULL only when out of memory */
        wm_worker_foreach_conn(wm_conn_worker(from), send_one, &line);
    wm_json_writer_free(w);
}

static void announce(wm_conn_t *c, const char *what)
{
    char text[64];
    int n = snprintf(text, sizeof text, "guest-%" PRIu64 " %s", wm_conn_id(c), what);
    broadcast(c, "system", NULL, text, (size_t)n);
}

static void on_chat_close(wm_conn_t *c, void *user_data)
{
    (void)user_data;
    announce(c, "left");
}

/* Runs once the WebSocket handshake completed: only then is the browser in
 * the room, so only then does its leaving need announcing. */
static void on_open(wm_conn_t *c, void *user_data)
{
    (void)user_data;
    wm_conn_on_close(c, on_chat_close, NULL);
    announce(c, "joined");
}

static void on_chat_message(wm_conn_t *c, const wm_msg_t *msg, void *user_data)
{
    (void)user_data;
    if (wm_ws_msg_type(msg) != WM_WS_TEXT) {
        wm_ws_close(c, WM_WS_CLOSE_UNSUPPORTED, "text messages only");
        return;
    }
    char who[32];
    snprintf(who, sizeof who, "guest-%" PRIu64, wm_conn_id(c));
    broadcast(c, "text", who, msg->data, msg->len);
}

/* ---- the page (http worker) -------------------------------------------- */

/* The host the browser used (Host without its port), if it is a plain host
 * name or address; it goes into the page, so nothing else is let through. */
static bool page_host(const wm_http_request_t *req, char *out, size_t cap)
{
    const char *host = wm_http_request_host(req);
    size_t n = 0;
    if (host[0] == '[') { /* [::1]:8080 */
        const char *end = strchr(host, ']');
        n = end ? (size_t)(end - host) + 1 : 0;
    } else {
        n = strcspn(host, ":");
    }
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)host[i]) && !strchr(".-[]:", host[i]))
            return false;
    memcpy(out, host, n);
    out[n] = '\0';
    return true;
}

static void on_page_request(wm_conn_t *c, const wm_msg_t *msg, void *user_data)
{
    const chat_t *chat = user_data;
    const wm_http_request_t *req = msg->extra;
    const char *path = wm_http_request_path(req);
    if (strcmp(path, "/") != 0 && strcmp(path, "/index.html") != 0) {
        wm_http_reply(c, 404, "text/plain", "not found\n", 10);
        return;
    }
    char host[256], url[320];
    if (!page_host(req, host, sizeof host))
        snprintf(host, sizeof host, "localhost");
    snprintf(url, sizeof url, "%s://%s:%u/", chat->ws_scheme, host, chat->ws_port);

    /* The page with its one mark replaced by the WebSocket address. */
    const char *page = (const char *)chat_page;
    const char *mark = strstr(page, PAGE_MARK);
    size_t head = mark ? (size_t)(mark - page) : chat_page_len;
    size_t tail = mark ? chat_page_len - head - strlen(PAGE_MARK) : 0;
    size_t len = head + strlen(url) + tail;
    char *body = malloc(len);
    if (body == NULL) {
        wm_http_reply(c, 503, "text/plain", "out of memory\n", 14);
        return;
    }
    memcpy(body, page, head);
    memcpy(body + head, url, strlen(url));
    if (mark)
        memcpy(body + head + strlen(url), mark + strlen(PAGE_MARK), tail);
    wm_http_reply(c, 200, "text/html; charset=utf-8", body, len);
    free(body);
}

/* ---- options ------------------------------------------------------------- */

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [OPTIONS] [start|stop|restart|reload|status|connections] [-d|-g]\n"
            "A WebSocket chat room and its web page, in one program.\n"
            "  --http URL      where the page is served (default http://0.0.0.0:8080)\n"
            "  --ws URL        where browsers connect (default websocket://0.0.0.0:8081)\n"
            "  --tls CERT KEY  serve the page over https and the room over wss, with this\n"
            "                  certificate chain and key (PEM)\n"
            "  --help          this text\n"
            "Example: %s --http http://127.0.0.1:8080 --ws websocket://127.0.0.1:8081 start\n"
            "         then open http://127.0.0.1:8080/ in two browser windows.\n",
            prog, prog);
}

/* The port at the end of a URL ("websocket://0.0.0.0:8081" -> 8081), or 0. */
static unsigned url_port(const char *url)
{
    const char *colon = strrchr(url, ':');
    char *end;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    return (colon && *end == '\0' && port <= 65535) ? (unsigned)port : 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"http", required_argument, NULL, 'p'},
                                         {"ws", required_argument, NULL, 'w'},
                                         {"tls", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *http_url = "http://0.0.0.0:8080", *ws_url = "websocket://0.0.0.0:8081";
    const char *cert = NULL, *key = NULL;
    int opt;

    while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            http_url = optarg;
            break;
        case 'w':
            ws_url = optarg;
            break;
        case 't': /* two values: CERT is the option's, KEY the next word */
            if (optind >= argc) {
                fprintf(stderr, "%s: --tls wants CERT and KEY\n", argv[0]);
                return 2;
            }
            cert = optarg;
            key = argv[optind++];
            break;
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        default:
            fprintf(stderr, "Try '%s --help'.\n", argv[0]);
            return 2;
        }
    }
    static chat_t chat;
    chat.ws_scheme = cert ? "wss" : "ws";
    chat.ws_port = url_port(ws_url);
    if (chat.ws_port == 0) {
        fprintf(stderr, "%s: --ws wants a URL with a port, like websocket://0.0.0.0:8081\n",
                argv[0]);
        return 2;
    }

    wm_worker_t *page = wm_worker_new(http_url);
    chat.ws = wm_worker_new(ws_url);
    if (page == NULL || chat.ws == NULL)
        return 1; /* the reason is logged */
    if (cert && (wm_worker_set_tls(page, cert, key) != WM_OK ||
                 wm_worker_set_tls(chat.ws, cert, key) != WM_OK))
        return 1; /* the reason (missing file, key does not match) is logged */
    wm_worker_set_name(page, "chat-page");
    wm_worker_on_message(page, on_page_request, &chat);

    wm_worker_set_name(chat.ws, "chat-room");
    wm_worker_set_max_package(chat.ws, MAX_TEXT + 14);
    /* Browsers that vanish (a laptop lid closed) are found within a minute. */
    wm_ws_worker_set_heartbeat(chat.ws, 30000, 30000);
    wm_worker_on_connect(chat.ws, on_open, NULL);
    wm_worker_on_message(chat.ws, on_chat_message, NULL);

    argv[optind - 1] = argv[0]; /* wm_run_all sees argv[0] + the command words */
    return wm_run_all(argc - optind + 1, argv + optind - 1);
}
