/* C reference for `sessionctl ls -o jsonl` on Spring Session, over hiredis: SCAN COUNT 1000
 * MATCH spring:session:sessions:* (expires: keys skipped client-side), then per session, in
 * one pipeline per page:
 *   default ("same work"): PTTL of the expires: key, MEMORY USAGE ... SAMPLES 0 of the hash, HMGET of the
 *     five fields sessionctl reads (times, max inactive, principal name, security context);
 *   --minimal (the literal reference): PTTL and HMGET of the three time fields;
 *   --logout USER (a forced logout's reads on the non-indexed repository): SCAN ... TYPE hash,
 *     pipelined HGET of the principal attribute, compared with USER's Java-serialized form;
 *     prints the matching ids, deletes nothing.
 * One JSON line per session. It does not decode the Java-serialized values (it prints their
 * lengths): less work than sessionctl does on the client side.
 * Build: cc -O2 -o spring_ref spring_ref.c -lhiredis
 * Run:   ./spring_ref HOST PORT [--minimal | --logout USER] > /dev/null */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *host = argc > 1 ? argv[1] : "127.0.0.1";
    int port = argc > 2 ? atoi(argv[2]) : 6379;
    int minimal = argc > 3 && strcmp(argv[3], "--minimal") == 0;
    const char *logout = argc > 4 && strcmp(argv[3], "--logout") == 0 ? argv[4] : NULL;
    redisContext *c = redisConnect(host, port);
    if (!c || c->err) { fprintf(stderr, "connect: %s\n", c ? c->errstr : "oom"); return 3; }
    static char out[1 << 16];
    setvbuf(stdout, out, _IOFBF, sizeof out);
    char cursor[64] = "0";
    const char *prefix = "spring:session:sessions:";
    size_t plen = strlen(prefix);
    long total = 0;
    if (logout) {
        /* TC_STRING: 0xAC 0xED 0x00 0x05 0x74, a 2-byte length, the UTF-8 bytes. */
        size_t ulen = strlen(logout);
        unsigned char want[4096];
        if (ulen > sizeof want - 7) return 2;
        memcpy(want, "\xac\xed\x00\x05\x74", 5);
        want[5] = (unsigned char)(ulen >> 8); want[6] = (unsigned char)ulen;
        memcpy(want + 7, logout, ulen);
        long matched = 0;
        do {
            redisReply *scan = redisCommand(c, "SCAN %s MATCH spring:session:sessions:* COUNT 1000 TYPE hash", cursor);
            if (!scan || scan->type != REDIS_REPLY_ARRAY) { fprintf(stderr, "scan failed\n"); return 1; }
            snprintf(cursor, sizeof cursor, "%s", scan->element[0]->str);
            redisReply *keys = scan->element[1];
            for (size_t i = 0; i < keys->elements; i++)
                redisAppendCommand(c, "HGET %b sessionAttr:org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME",
                                   keys->element[i]->str, keys->element[i]->len);
            for (size_t i = 0; i < keys->elements; i++) {
                redisReply *h;
                if (redisGetReply(c, (void **)&h) != REDIS_OK) { fprintf(stderr, "read failed\n"); return 1; }
                if (h->type == REDIS_REPLY_STRING && h->len == ulen + 7 && memcmp(h->str, want, ulen + 7) == 0) {
                    printf("%s\n", keys->element[i]->str + plen);
                    matched++;
                }
                freeReplyObject(h);
                total++;
            }
            freeReplyObject(scan);
        } while (strcmp(cursor, "0") != 0);
        fflush(stdout);
        fprintf(stderr, "%ld sessions read, %ld of %s\n", total, matched, logout);
        redisFree(c);
        return 0;
    }
    do {
        redisReply *scan = redisCommand(c, "SCAN %s MATCH spring:session:sessions:* COUNT 1000", cursor);
        if (!scan || scan->type != REDIS_REPLY_ARRAY) { fprintf(stderr, "scan failed\n"); return 1; }
        snprintf(cursor, sizeof cursor, "%s", scan->element[0]->str);
        redisReply *keys = scan->element[1];
        size_t n = 0;
        for (size_t i = 0; i < keys->elements; i++) {
            const char *k = keys->element[i]->str;
            if (strncmp(k + plen, "expires:", 8) == 0) continue;
            if (minimal) {
                redisAppendCommand(c, "PTTL %b", k, keys->element[i]->len);
                redisAppendCommand(c, "HMGET %b creationTime lastAccessedTime maxInactiveInterval", k, keys->element[i]->len);
            } else {
                redisAppendCommand(c, "PTTL spring:session:sessions:expires:%s", k + plen);
                redisAppendCommand(c, "MEMORY USAGE %b SAMPLES 0", k, keys->element[i]->len);
                redisAppendCommand(c, "HMGET %b creationTime lastAccessedTime maxInactiveInterval "
                                   "sessionAttr:org.springframework.session.FindByIndexNameSessionRepository.PRINCIPAL_NAME_INDEX_NAME "
                                   "sessionAttr:SPRING_SECURITY_CONTEXT", k, keys->element[i]->len);
            }
            n++;
        }
        for (size_t i = 0, j = 0; i < keys->elements; i++) {
            const char *k = keys->element[i]->str;
            if (strncmp(k + plen, "expires:", 8) == 0) continue;
            redisReply *ttl, *mem = NULL, *h;
            if (redisGetReply(c, (void **)&ttl) != REDIS_OK ||
                (!minimal && redisGetReply(c, (void **)&mem) != REDIS_OK) ||
                redisGetReply(c, (void **)&h) != REDIS_OK) { fprintf(stderr, "read failed\n"); return 1; }
            printf("{\"id\":\"%s\",\"ttl_ms\":%lld,\"size_bytes\":%lld,\"created_len\":%zu,\"last_len\":%zu,\"max_len\":%zu}\n",
                   k + plen, ttl->integer, mem ? mem->integer : -1LL,
                   h->element[0]->len, h->element[1]->len, h->element[2]->len);
            freeReplyObject(ttl); if (mem) freeReplyObject(mem); freeReplyObject(h);
            j++; total++;
        }
        (void)n;
        freeReplyObject(scan);
    } while (strcmp(cursor, "0") != 0);
    fflush(stdout);
    fprintf(stderr, "%ld sessions\n", total);
    redisFree(c);
    return 0;
}
