/*
 * The memcached listing reference: what any tool must do to list sessions on memcached 1.6.18,
 * written plainly in C. `lru_crawler metadump all` on one connection, and for each batch of
 * 1000 session keys one pipelined write of `mg KEY s v t f l u` on a second connection, then
 * the replies read in order; one JSON line per session (id, ttl, idle, size, value length).
 * The batches run one after the other (dump, read, print), as the simple tool would.
 *
 *   memcached_ref HOST PORT                 list (minimal: no decoding)
 *   memcached_ref HOST PORT --same-work     list, decoding each PHP session far enough to find
 *                                           its `user` and printing sessionctl's JSON fields
 *   memcached_ref HOST PORT --seed N USERS  write N PHP sessions (memcached handler layout)
 *
 * Build: cc -O2 -o memcached_ref memcached_ref.c
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int fd;
    char *buf;
    size_t cap, start, end;
} conn;

static void die(const char *m) {
    perror(m);
    exit(1);
}

static void open_conn(conn *c, const char *host, int port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, host, &a.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) != 0) die("connect");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->cap = 1 << 20;
    c->buf = malloc(c->cap);
    c->start = c->end = 0;
}

static void write_all(conn *c, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(c->fd, p, n);
        if (w <= 0) die("write");
        p += w;
        n -= (size_t)w;
    }
}

static void fill(conn *c) {
    if (c->start > 0) {
        memmove(c->buf, c->buf + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    if (c->end == c->cap) {
        c->cap *= 2;
        c->buf = realloc(c->buf, c->cap);
    }
    ssize_t r = read(c->fd, c->buf + c->end, c->cap - c->end);
    if (r <= 0) die("read");
    c->end += (size_t)r;
}

/* The next line (NUL-terminated in place, without \r\n); valid until the next call. */
static char *line(conn *c, size_t *len) {
    for (;;) {
        char *nl = memchr(c->buf + c->start, '\n', c->end - c->start);
        if (nl) {
            char *l = c->buf + c->start;
            size_t n = (size_t)(nl - l);
            if (n > 0 && l[n - 1] == '\r') n--;
            l[n] = 0;
            c->start = (size_t)(nl - c->buf) + 1;
            *len = n;
            return l;
        }
        fill(c);
    }
}

static void skip(conn *c, size_t n) {
    while (c->end - c->start < n) fill(c);
    c->start += n;
}

/* Skips one PHP serialize() value at p (end e); returns the position after it, or NULL. For a
 * string, str and slen receive it. Enough of the format for the sessions seeded here and PHP's
 * own: N; b: i: d: s: a:{...} O:..:{...}. */
static const char *php_value(const char *p, const char *e, const char **str, long *slen, int depth) {
    if (p >= e || depth > 64) return NULL;
    char t = *p;
    if (t == 'N') return p + 2 <= e ? p + 2 : NULL;
    if (p + 2 > e || p[1] != ':') return NULL;
    p += 2;
    if (t == 'b' || t == 'i' || t == 'd') {
        const char *q = memchr(p, ';', (size_t)(e - p));
        return q ? q + 1 : NULL;
    }
    char *q;
    long n = strtol(p, &q, 10);
    if (q >= e || *q != ':' || n < 0) return NULL;
    p = q + 1;
    if (t == 's') {
        if (p + n + 3 > e || *p != '"') return NULL;
        if (str) { *str = p + 1; *slen = n; }
        return p + 1 + n + 2;
    }
    if (t == 'O') { /* class name, then the member count */
        if (p + n + 3 > e) return NULL;
        p += n + 3;
        n = strtol(p, &q, 10);
        p = q + 1;
    }
    if (t == 'a' || t == 'O') {
        if (*p != '{') return NULL;
        p++;
        for (long i = 0; i < 2 * n; i++) {
            p = php_value(p, e, NULL, NULL, depth + 1);
            if (!p) return NULL;
        }
        return p < e && *p == '}' ? p + 1 : NULL;
    }
    return NULL;
}

/* The `user` of a PHP session value (name|value pairs), or NULL. */
static const char *php_user(const char *v, long n, long *ulen) {
    const char *p = v, *e = v + n;
    while (p < e) {
        const char *bar = memchr(p, '|', (size_t)(e - p));
        if (!bar) return NULL;
        int is_user = bar - p == 4 && memcmp(p, "user", 4) == 0;
        const char *s = NULL;
        long sl = 0;
        p = php_value(bar + 1, e, &s, &sl, 0);
        if (!p) return NULL;
        if (is_user && s) { *ulen = sl; return s; }
    }
    return NULL;
}

static void json_string(const char *s, long n) {
    putchar('"');
    for (long i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') { putchar('\\'); putchar(c); }
        else if (c < 0x20 || c == 0x7f) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

#define BATCH 1000
static const char *PREFIX = "memc.sess.key.";

static void seed(const char *host, int port, long n, long users) {
    conn c;
    open_conn(&c, host, port);
    char *out = malloc(4 << 20);
    size_t used = 0;
    long pending = 0;
    for (long i = 0; i < n; i++) {
        char value[160];
        int vl = snprintf(value, sizeof value,
                          "user|s:%d:\"user%ld\";cart|a:2:{i:0;i:%ld;i:1;i:2;}last|i:1700000000;",
                          (int)snprintf(NULL, 0, "user%ld", i % users), i % users, i);
        used += (size_t)sprintf(out + used, "ms %s%032lx %d T3600 F0 q\r\n%s\r\n", PREFIX, i, vl, value);
        pending++;
        if (used > (4 << 20) - 512 || i == n - 1) {
            write_all(&c, out, used);
            used = 0;
            pending = 0;
        }
    }
    write_all(&c, "mn\r\n", 4);
    size_t len;
    for (;;) {
        char *l = line(&c, &len);
        if (strcmp(l, "MN") == 0) break;
        fprintf(stderr, "seed: %s\n", l);
    }
    (void)pending;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s HOST PORT [--seed N USERS]\n", argv[0]);
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    if (argc >= 5 && strcmp(argv[3], "--seed") == 0) {
        seed(host, port, atol(argv[4]), argc >= 6 ? atol(argv[5]) : 1000);
        return 0;
    }
    int same = argc >= 4 && strcmp(argv[3], "--same-work") == 0;
    char node[64];
    snprintf(node, sizeof node, "%s:%d", host, port);
    conn dump, rd;
    open_conn(&dump, host, port);
    open_conn(&rd, host, port);
    const char *cmd = "lru_crawler metadump all\r\n";
    write_all(&dump, cmd, strlen(cmd));
    static char keys[BATCH][256];
    static long sizes[BATCH];
    char *req = malloc(BATCH * 300);
    size_t plen = strlen(PREFIX);
    int done = 0;
    long listed = 0;
    while (!done) {
        int k = 0;
        while (k < BATCH) {
            size_t len;
            char *l = line(&dump, &len);
            if (strcmp(l, "END") == 0) {
                done = 1;
                break;
            }
            if (strncmp(l, "BUSY", 4) == 0) {
                usleep(50000);
                write_all(&dump, cmd, strlen(cmd));
                continue;
            }
            char *key = strstr(l, "key=");
            if (!key) continue;
            key += 4;
            char *sp = strchr(key, ' ');
            if (sp) *sp = 0;
            if (strncmp(key, PREFIX, plen) != 0 || strncmp(key + plen, "lock.", 5) == 0) continue;
            snprintf(keys[k], sizeof keys[k], "%s", key);
            char *sz = sp ? strstr(sp + 1, "size=") : NULL;
            sizes[k] = sz ? atol(sz + 5) : -1;
            k++;
        }
        if (k == 0) continue;
        size_t used = 0;
        for (int i = 0; i < k; i++) used += (size_t)sprintf(req + used, "mg %s s v t f l u\r\n", keys[i]);
        write_all(&rd, req, used);
        for (int i = 0; i < k; i++) {
            size_t len;
            char *l = line(&rd, &len);
            if (strncmp(l, "VA ", 3) != 0) continue; /* EN: gone since the dump */
            long vlen = atol(l + 3), ttl = -1, idle = -1;
            for (char *t = strchr(l + 3, ' '); t; t = strchr(t + 1, ' ')) {
                if (t[1] == 't') ttl = atol(t + 2);
                if (t[1] == 'l') idle = atol(t + 2);
            }
            if (same) {
                while (rd.end - rd.start < (size_t)vlen + 2) fill(&rd);
                const char *v = rd.buf + rd.start;
                long ulen = 0;
                const char *u = php_user(v, vlen, &ulen);
                fputs("{\"id\":", stdout);
                json_string(keys[i] + plen, (long)strlen(keys[i] + plen));
                fputs(",\"user\":", stdout);
                if (u) json_string(u, ulen); else fputs("null", stdout);
                printf(",\"node\":\"%s\",\"ttl_ms\":%ld,\"schema\":\"php-memcached\",\"created_at\":null,"
                       "\"last_accessed_at\":null,\"size_bytes\":%ld,\"idle_ms\":%ld,\"max_inactive_s\":null,\"key\":",
                       node, ttl < 0 ? -1 : ttl * 1000, sizes[i], idle * 1000);
                json_string(keys[i], (long)strlen(keys[i]));
                fputs("}\n", stdout);
                rd.start += (size_t)vlen + 2;
                listed++;
                continue;
            }
            skip(&rd, (size_t)vlen + 2);
            printf("{\"id\":\"%s\",\"ttl_ms\":%ld,\"idle_ms\":%ld,\"size_bytes\":%ld,\"value_bytes\":%ld}\n",
                   keys[i] + plen, ttl < 0 ? -1 : ttl * 1000, idle * 1000, sizes[i], vlen);
            listed++;
        }
    }
    fprintf(stderr, "listed %ld\n", listed);
    return 0;
}
