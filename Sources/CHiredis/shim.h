#ifndef SESSIONCTL_CHIREDIS_SHIM_H
#define SESSIONCTL_CHIREDIS_SHIM_H
// hiredis 0.14 (Debian bookworm). `redisCommand` is variadic and not importable:
// callers use redisAppendCommandArgv + redisGetReply.
#include <hiredis/hiredis.h>
#include <sys/time.h>

/// `struct timeval` from milliseconds, so Swift does not spell out the fields.
static inline struct timeval chr_timeval_ms(long ms) {
    struct timeval tv;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}
#endif
