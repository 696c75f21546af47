/* SPDX-License-Identifier: MIT */
/* wm_strerror: names for WM_E* codes, falling back to strerror for errnos. */
#include <string.h>

#include "wm_int.h"

const char *wm_strerror(int err)
{
    switch (err) {
    case WM_OK:
        return "success";
    case WM_EBADURL:
        return "bad address URL (expected scheme://host:port or unix:///path)";
    case WM_ENOPROTO:
        return "no protocol registered under that scheme";
    case WM_EDNS:
        return "host name could not be resolved";
    case WM_ETLS:
        return "TLS failure (handshake, certificate verification or a bad record)";
    case WM_ENOBUFS:
        return "send buffer full: data dropped";
    case WM_EMSGSIZE:
        return "message larger than the max package size";
    case WM_EPROTO:
        return "protocol error in the peer's data";
    case WM_ENOTCONN:
        return "connection is closing or closed";
    case WM_ECANCELED:
        return "canceled: the object was closed";
    }
    if (err < 0 && err > -4000) {
        /* strerror's text is static for every errno on glibc. */
        return strerror(-err);
    }
    return "unknown error";
}

const char *wm_version(void)
{
    return WM_VERSION;
}
