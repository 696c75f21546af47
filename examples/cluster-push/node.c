/* SPDX-License-Identifier: MIT */
/* example-cluster-push: one app-server node of a cluster joined by one
 * channel-server (README.md beside this file). Run it several times with
 * different --node names and ports; every process of every node connects
 * to the channel-server with wm/channel.h.
 *
 * Workers of one node:
 *   websocket:// (count 2)  browsers connect here; each connection gets an
 *                           id unique across the cluster, "<node>-<worker
 *                           process>-<connection>" (e.g. "a-1-7")
 *   http:// (count 1)       the page (GET /) and the push API (POST /push)
 * With --tls CERT KEY both use TLS: the page and the API over https, the
 * browsers over wss (the page picks wss when it was loaded over https).
 *
 * Events on the channel (what each process subscribes to):
 *   all            every WebSocket process: pushes to everyone
 *   c.<node>-<n>   WebSocket process n of node: pushes to one connection
 *   u.<user>       processes with a connection bound to that user
 *   g.<group>      processes with a connection in that group
 * An event's data is "TARGET\nJSON": TARGET is the connection id for c.*
 * events (empty otherwise), JSON the text each browser gets.
 *
 * Browsers send JSON: {"bind":"alice"}, {"join":"g1"}, {"leave":"g1"},
 * {"to":"g1","text":"hi"} (to a group; "all", "user:X" and "conn:ID" work
 * too). Bindings and memberships end with the connection. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wm/channel.h>
#include <wm/wm.h>

extern const unsigned char push_page[]; /* generated from page.html */
extern const size_t push_page_len;

#define MAX_TEXT 8192 /* bytes of one pushed text */
#define MAX_NAME 64   /* bytes of a user or group name */

static struct {
    const char *node;
    const char *channel; /* the channel-server's address */
    unsigned ws_port;
    wm_ch_client_t *ch; /* this process's channel client */
    char self[80];      /* "c.<node>-<n>": this WebSocket process's event */
} g;

/* A connection bound to a user ('u') or member of a group ('g'). */
typedef struct member {
    char kind;
    char name[MAX_NAME + 1];
    uint64_t conn;
} member_t;

static member_t *members;
static size_t nmembers;

/* ---- Small helpers ------------------------------------------------------- */

static bool name_ok(const char *s, size_t len)
{
    if (len == 0 || len > MAX_NAME)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", s[i]))
            return false;
    return true;
}

static void conn_label(wm_conn_t *c, char *buf, size_t len)
{
    snprintf(buf, len, "%s-%d-%" PRIu64, g.node, wm_worker_id(wm_conn_worker(c)), wm_conn_id(c));
}

/* Builds {"type":T,"to":TO,"from":FROM,"text":TEXT} (to/from may be NULL)
 * behind "TARGET\n"; caller frees. */
static char *event_data(const char *target, const char *type, const char *key, const char *value,
                        const char *from, const char *text, size_t text_len, size_t *len)
{
    wm_json_writer_t *w = wm_json_writer_new();
    if (!w)
        return NULL;
    wm_json_write_object_begin(w);
    wm_json_write_key(w, "type");
    wm_json_write_string(w, type);
    wm_json_write_key(w, key);
    wm_json_write_string(w, value);
    if (from) {
        wm_json_write_key(w, "from");
        wm_json_write_string(w, from);
    }
    if (text) {
        wm_json_write_key(w, "text");
        wm_json_write_stringn(w, text, text_len);
    }
    wm_json_write_object_end(w);
    size_t jlen;
    const char *json = wm_json_writer_text(w, &jlen);
    char *out = json ? malloc(strlen(target) + 1 + jlen + 1) : NULL;
    if (out)
        *len = (size_t)sprintf(out, "%s\n%s", target, json);
    wm_json_writer_free(w);
    return out;
}

/* "all", "user:X", "conn:ID", "group:X" or a bare group name -> the event
 * and the TARGET of its data. false when `to` is not one of them. */
static bool route(const char *to, char *event, size_t elen, char *target, size_t tlen)
{
    target[0] = '\0';
    if (strcmp(to, "all") == 0) {
        snprintf(event, elen, "all");
    } else if (strncmp(to, "user:", 5) == 0 && name_ok(to + 5, strlen(to + 5))) {
        snprintf(event, elen, "u.%s", to + 5);
    } else if (strncmp(to, "conn:", 5) == 0 && name_ok(to + 5, strlen(to + 5))) {
        /* "a-1-7": the process's event is c.a-1; the target, the whole id */
        const char *dash = strrchr(to + 5, '-');
        if (!dash || dash == to + 5)
            return false;
        snprintf(event, elen, "c.%.*s", (int)(dash - (to + 5)), to + 5);
        snprintf(target, tlen, "%s", to + 5);
    } else {
        const char *grp = strncmp(to, "group:", 6) == 0 ? to + 6 : to;
        if (!name_ok(grp, strlen(grp)))
            return false;
        snprintf(event, elen, "g.%s", grp);
    }
    return true;
}

/* ---- Delivering events to local connections ------------------------------ */

static void send_json(wm_conn_t *c, const char *json, size_t len)
{
    if (c && wm_ws_is_open(c))
        wm_ws_send_text(c, json, len);
}

static void send_each(wm_conn_t *c, void *user_data)
{
    const wm_ch_msg_t *m = user_data;
    const char *nl = memchr(m->data, '\n', m->len);
    send_json(c, nl + 1, m->len - (size_t)(nl + 1 - m->data));
}

/* Splits "TARGET\nJSON"; false for anything else. */
static bool split(const wm_ch_msg_t *m, const char **json, size_t *jlen)
{
    const char *nl = m->data ? memchr(m->data, '\n', m->len) : NULL;
    if (!nl)
        return false;
    *json = nl + 1;
    *jlen = m->len - (size_t)(nl + 1 - m->data);
    return true;
}

static void on_all(wm_ch_client_t *c, const wm_ch_msg_t *m, void *user_data)
{
    const char *json;
    size_t jlen;
    (void)c;
    if (split(m, &json, &jlen))
        wm_worker_foreach_conn(user_data, send_each, (void *)m);
}

static void on_conn_event(wm_ch_client_t *c, const wm_ch_msg_t *m, void *user_data)
{
    const char *json, *dash;
    size_t jlen;
    (void)c, (void)user_data;
    if (!split(m, &json, &jlen))
        return;
    for (dash = json - 1; dash > m->data && *dash != '-'; dash--) /* "a-1-7\n": the 7 */
        ;
    if (*dash != '-')
        return;
    send_json(wm_conn_find(strtoull(dash + 1, NULL, 10)), json, jlen);
}

/* u.<user> and g.<group>: every local member. */
static void on_member_event(wm_ch_client_t *c, const wm_ch_msg_t *m, void *user_data)
{
    const char *json;
    size_t jlen;
    (void)c, (void)user_data;
    if (!split(m, &json, &jlen) || strlen(m->name) < 3)
        return;
    for (size_t i = 0; i < nmembers; i++)
        if (members[i].kind == m->name[0] && strcmp(members[i].name, m->name + 2) == 0)
            send_json(wm_conn_find(members[i].conn), json, jlen);
}

/* ---- Membership ---------------------------------------------------------- */

static size_t count_of(char kind, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < nmembers; i++)
        n += members[i].kind == kind && strcmp(members[i].name, name) == 0;
    return n;
}

static void subscription(char kind, const char *name, bool on)
{
    char event[MAX_NAME + 3];
    snprintf(event, sizeof event, "%c.%s", kind, name);
    const char *ev = event;
    if (on)
        wm_ch_subscribe(g.ch, &ev, 1);
    else
        wm_ch_unsubscribe(g.ch, &ev, 1);
}

static bool member_add(char kind, const char *name, uint64_t conn)
{
    for (size_t i = 0; i < nmembers; i++)
        if (members[i].kind == kind && members[i].conn == conn && !strcmp(members[i].name, name))
            return true;
    member_t *grown = realloc(members, (nmembers + 1) * sizeof *grown);
    if (!grown)
        return false;
    members = grown;
    if (count_of(kind, name) == 0)
        subscription(kind, name, true);
    members[nmembers] = (member_t){.kind = kind, .conn = conn};
    snprintf(members[nmembers].name, sizeof members[0].name, "%s", name);
    nmembers++;
    return true;
}

/* Removes conn's entries (of `name`, or all when NULL); unsubscribes from
 * what no local connection needs any more. */
static void member_remove(char kind, const char *name, uint64_t conn)
{
    for (size_t i = 0; i < nmembers;) {
        member_t m = members[i];
        if (m.conn != conn || (kind && m.kind != kind) || (name && strcmp(m.name, name))) {
            i++;
            continue;
        }
        members[i] = members[--nmembers];
        if (count_of(m.kind, m.name) == 0)
            subscription(m.kind, m.name, false);
    }
}

/* ---- The WebSocket worker ------------------------------------------------ */

static void reply(wm_conn_t *c, const char *type, const char *key, const char *value)
{
    size_t len;
    char *d = event_data("", type, key, value, NULL, NULL, 0, &len);
    if (d) {
        send_each(c, &(wm_ch_msg_t){.data = d, .len = len});
        free(d);
    }
}

static void on_ws_open(wm_conn_t *c, void *user_data)
{
    char id[80];
    (void)user_data;
    conn_label(c, id, sizeof id);
    reply(c, "welcome", "id", id);
}

static void on_ws_close(wm_conn_t *c, void *user_data)
{
    (void)user_data;
    member_remove(0, NULL, wm_conn_id(c));
}

static const char *json_str(const wm_json_t *root, const char *key, size_t *len)
{
    return wm_json_as_string(wm_json_get(root, key), len);
}

/* {"to":..., "text":...} from a browser: published as it is addressed. */
static void browser_send(wm_conn_t *c, const char *to, const char *text, size_t text_len)
{
    char event[MAX_NAME + 80], target[80], from[80];
    if (!route(to, event, sizeof event, target, sizeof target) || text_len > MAX_TEXT) {
        reply(c, "error", "reason", "bad 'to' (all, user:X, conn:ID, or a group) or text");
        return;
    }
    conn_label(c, from, sizeof from);
    size_t len;
    char *d = event_data(target, event[0] == 'g' ? "group" : "push", "to", to, from, text, text_len,
                         &len);
    const char *ev = event;
    if (d)
        wm_ch_publish(g.ch, &ev, 1, d, len, NULL, NULL);
    free(d);
}

static void on_ws_message(wm_conn_t *c, const wm_msg_t *msg, void *user_data)
{
    wm_json_doc_t *doc;
    size_t len;
    const char *s;
    (void)user_data;
    if (wm_json_parse(msg->data, msg->len, NULL, &doc, NULL) != WM_OK) {
        reply(c, "error", "reason", "send JSON");
        return;
    }
    const wm_json_t *root = wm_json_root(doc);
    if ((s = json_str(root, "bind", &len)) && name_ok(s, len)) {
        if (member_add('u', s, wm_conn_id(c)))
            reply(c, "bound", "user", s);
    } else if ((s = json_str(root, "join", &len)) && name_ok(s, len)) {
        if (member_add('g', s, wm_conn_id(c)))
            reply(c, "joined", "group", s);
    } else if ((s = json_str(root, "leave", &len)) && name_ok(s, len)) {
        member_remove('g', s, wm_conn_id(c));
        reply(c, "left", "group", s);
    } else if ((s = json_str(root, "to", &len)) && strlen(s) == len) {
        size_t tlen;
        const char *text = json_str(root, "text", &tlen);
        browser_send(c, s, text ? text : "", text ? tlen : 0);
    } else {
        reply(c, "error", "reason", "expected bind, join, leave or to");
    }
    wm_json_doc_free(doc);
}

static void connect_channel(void)
{
    g.ch = wm_ch_client_new(g.channel, NULL);
    if (!g.ch) {
        wm_log_error("cluster-push: bad --channel address '%s'", g.channel);
        wm_stop_all();
    }
}

static void on_ws_start(wm_worker_t *w, void *user_data)
{
    (void)user_data;
    connect_channel();
    snprintf(g.self, sizeof g.self, "c.%s-%d", g.node, wm_worker_id(w));
    if (g.ch) {
        wm_ch_on(g.ch, "all", on_all, w);
        wm_ch_on(g.ch, g.self, on_conn_event, NULL);
        wm_ch_on(g.ch, NULL, on_member_event, NULL); /* u.* and g.*, subscribed one by one */
    }
}

static void on_any_stop(wm_worker_t *w, void *user_data)
{
    (void)w, (void)user_data;
    wm_ch_client_free(g.ch);
    g.ch = NULL;
}

/* ---- The HTTP worker: the page and the push API -------------------------- */

static void on_pushed(wm_ch_client_t *c, int status, uint64_t result, void *user_data)
{
    wm_conn_t *conn = wm_conn_find((uint64_t)(uintptr_t)user_data);
    char body[160];
    (void)c;
    if (!conn)
        return; /* the caller left */
    if (status != WM_OK) {
        int n = snprintf(body, sizeof body, "{\"ok\":false,\"error\":\"%s\"}\n",
                         wm_ch_strerror(status));
        wm_http_reply(conn, 503, "application/json", body, (size_t)n);
        return;
    }
    int n = snprintf(body, sizeof body, "{\"ok\":true,\"processes\":%" PRIu64 "}\n", result);
    wm_http_reply(conn, 200, "application/json", body, (size_t)n);
}

static int hex_digit(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* The value of `key` in a query string, %XX-decoded ("user%3Aalice"). */
static bool query_get(const char *query, const char *key, char *out, size_t len)
{
    size_t klen = strlen(key);
    for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, key, klen) != 0 || p[klen] != '=')
            continue;
        size_t n = 0;
        for (const char *v = p + klen + 1; *v && *v != '&'; v++) {
            int hi, lo;
            char ch = *v;
            if (ch == '%' && (hi = hex_digit(v[1])) >= 0 && (lo = hex_digit(v[2])) >= 0) {
                ch = (char)(hi * 16 + lo);
                v += 2;
            }
            if (n + 1 >= len)
                return false;
            out[n++] = ch;
        }
        out[n] = '\0';
        return true;
    }
    return false;
}

static void push_api(wm_conn_t *c, const wm_http_request_t *req)
{
    char to[MAX_NAME + 16], event[MAX_NAME + 80], target[80];
    size_t blen;
    const char *body = wm_http_request_body(req, &blen);
    if (strcmp(wm_http_request_method(req), "POST") != 0 ||
        !query_get(wm_http_request_query(req), "to", to, sizeof to) ||
        !route(to, event, sizeof event, target, sizeof target) || blen > MAX_TEXT) {
        static const char usage[] = "POST /push?to=all|user:NAME|conn:ID|group:NAME with the "
                                    "text as the body\n";
        wm_http_reply(c, 400, "text/plain", usage, sizeof usage - 1);
        return;
    }
    size_t len;
    char *d =
        event_data(target, event[0] == 'g' ? "group" : "push", "to", to, "http", body, blen, &len);
    const char *ev = event;
    if (!d ||
        wm_ch_publish(g.ch, &ev, 1, d, len, on_pushed, (void *)(uintptr_t)wm_conn_id(c)) != WM_OK)
        wm_http_reply(c, 400, "text/plain", "the text must be UTF-8\n", 23);
    free(d);
}

static void on_http(wm_conn_t *c, const wm_msg_t *msg, void *user_data)
{
    const wm_http_request_t *req = msg->extra;
    const char *path = wm_http_request_path(req);
    (void)user_data;
    if (strcmp(path, "/push") == 0) {
        push_api(c, req);
        return;
    }
    if (strcmp(path, "/") != 0) {
        wm_http_reply(c, 404, "text/plain", "not found\n", 10);
        return;
    }
    /* The page with its marks replaced: the WebSocket port and the node. */
    char port[16];
    snprintf(port, sizeof port, "%u", g.ws_port);
    const char *page = (const char *)push_page;
    const char *mark = strstr(page, "{{WS_PORT}}");
    size_t head = mark ? (size_t)(mark - page) : push_page_len;
    char *out = malloc(push_page_len + 16);
    if (!out) {
        wm_http_reply(c, 503, "text/plain", "out of memory\n", 14);
        return;
    }
    memcpy(out, page, head);
    size_t len = head;
    if (mark) {
        memcpy(out + len, port, strlen(port));
        len += strlen(port);
        size_t tail = push_page_len - head - 11;
        memcpy(out + len, mark + 11, tail);
        len += tail;
    }
    wm_http_reply(c, 200, "text/html; charset=utf-8", out, len);
    free(out);
}

static void on_http_start(wm_worker_t *w, void *user_data)
{
    (void)w, (void)user_data;
    connect_channel();
}

/* ---- Options ------------------------------------------------------------- */

static void usage(FILE *out, const char *prog)
{
    fprintf(out,
            "Usage: %s [OPTIONS] [start|stop|restart|status|connections] [-d]\n"
            "One node of a push cluster joined by channel-server.\n"
            "  --node NAME     this node's name, unique in the cluster (default a)\n"
            "  --http URL      the page and the push API (default http://127.0.0.1:8090)\n"
            "  --ws URL        where browsers connect (default websocket://127.0.0.1:8091)\n"
            "  --channel ADDR  the channel-server (default 127.0.0.1:2206)\n"
            "  --tls CERT KEY  serve the page and the API over https and the WebSockets over\n"
            "                  wss, with this certificate chain and key (PEM)\n"
            "  --help          this text\n"
            "Push: curl -X POST 'http://127.0.0.1:8090/push?to=user:alice' -d hello\n"
            "      (to=all, to=user:NAME, to=conn:ID, to=group:NAME)\n",
            prog);
}

static unsigned url_port(const char *url)
{
    const char *colon = strrchr(url, ':');
    char *end;
    unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
    return (colon && *end == '\0' && port <= 65535) ? (unsigned)port : 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"node", required_argument, NULL, 'n'},
                                         {"http", required_argument, NULL, 'p'},
                                         {"ws", required_argument, NULL, 'w'},
                                         {"channel", required_argument, NULL, 'c'},
                                         {"tls", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *http_url = "http://127.0.0.1:8090", *ws_url = "websocket://127.0.0.1:8091";
    const char *cert = NULL, *key = NULL;
    int opt;
    g.node = "a";
    g.channel = "127.0.0.1:2206";
    while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            g.node = optarg;
            break;
        case 'p':
            http_url = optarg;
            break;
        case 'w':
            ws_url = optarg;
            break;
        case 'c':
            g.channel = optarg;
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
    if (!name_ok(g.node, strlen(g.node)) || strchr(g.node, '-') ||
        !(g.ws_port = url_port(ws_url))) {
        fprintf(stderr, "%s: --node is letters and digits; --ws wants a port\n", argv[0]);
        return 2;
    }
    wm_worker_t *http = wm_worker_new(http_url), *ws = wm_worker_new(ws_url);
    if (!http || !ws)
        return 1; /* the reason is logged */
    if (cert &&
        (wm_worker_set_tls(http, cert, key) != WM_OK || wm_worker_set_tls(ws, cert, key) != WM_OK))
        return 1; /* the reason (missing file, key does not match) is logged */
    wm_worker_set_name(http, "push-api");
    wm_worker_on_worker_start(http, on_http_start, NULL);
    wm_worker_on_worker_stop(http, on_any_stop, NULL);
    wm_worker_on_message(http, on_http, NULL);

    wm_worker_set_name(ws, "push-ws");
    wm_worker_set_count(ws, 2);
    wm_worker_set_max_package(ws, MAX_TEXT * 2);
    wm_ws_worker_set_heartbeat(ws, 30000, 30000);
    wm_worker_on_worker_start(ws, on_ws_start, NULL);
    wm_worker_on_worker_stop(ws, on_any_stop, NULL);
    wm_worker_on_connect(ws, on_ws_open, NULL);
    wm_worker_on_message(ws, on_ws_message, NULL);
    wm_worker_on_close(ws, on_ws_close, NULL);

    argv[optind - 1] = argv[0]; /* wm_run_all sees argv[0] + the command words */
    return wm_run_all(argc - optind + 1, argv + optind - 1);
}
