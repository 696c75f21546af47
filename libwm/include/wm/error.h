/* SPDX-License-Identifier: MIT */
/* Error codes shared by every wm component.
 *
 * Functions that can fail return an int: WM_OK (0) or a negative WM_E* code.
 * Where an errno exists the code is its negation (WM_ECONNREFUSED ==
 * -ECONNREFUSED), so a system error passes through unchanged. Codes with no
 * errno equivalent live below -4000. wm_strerror() names any of them. */
#ifndef WM_ERROR_H
#define WM_ERROR_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

#define WM_OK 0
#define WM_EAGAIN (-EAGAIN)             /* would block / need more input */
#define WM_ENOMEM (-ENOMEM)             /* out of memory */
#define WM_EINVAL (-EINVAL)             /* bad argument (a message says which) */
#define WM_ENOENT (-ENOENT)             /* no such object (timer id, protocol) */
#define WM_EEXIST (-EEXIST)             /* already there (protocol name taken) */
#define WM_ECANCELED (-ECANCELED)       /* the object was closed before the request ended */
#define WM_ETIMEDOUT (-ETIMEDOUT)       /* a deadline passed (connect timeout) */
#define WM_ECONNREFUSED (-ECONNREFUSED) /* nobody listens at the address */
#define WM_ECONNRESET (-ECONNRESET)     /* the peer reset the connection */
#define WM_EADDRINUSE (-EADDRINUSE)     /* the listen address is taken */
#define WM_ENOTCONN (-ENOTCONN)         /* the connection is closing or closed */
#define WM_ENOBUFS (-ENOBUFS)           /* send buffer over its limit: data dropped */
#define WM_EMSGSIZE (-EMSGSIZE)         /* a message is over the max package size */
#define WM_EPROTO (-EPROTO)             /* the peer broke the protocol */
#define WM_EAFNOSUPPORT (-EAFNOSUPPORT) /* address family not supported */

#define WM_EBADURL (-4001)  /* an address URL could not be parsed */
#define WM_ENOPROTO (-4002) /* no protocol is registered under that scheme */
#define WM_EDNS (-4003)     /* a host name could not be resolved */
#define WM_ETLS (-4004)     /* TLS failed: handshake, verification or a bad record */

/* Returns a static, human-readable text for a WM_E* code (or a negated
 * errno). Never NULL; unknown codes give "unknown error". */
const char *wm_strerror(int err);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
