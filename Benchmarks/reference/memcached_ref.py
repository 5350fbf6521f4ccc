#!/usr/bin/env python3
"""The memcached listing reference in Python, what an operator's script would do: the same
`lru_crawler metadump all` and pipelined `mg KEY s v t f l u` batches of 1000 as the C one
(memcached_ref.c), each PHP session parsed far enough to find its `user`, and sessionctl's
JSON fields per line. Usage: memcached_ref.py HOST PORT"""
import json, socket, sys

PREFIX = b"memc.sess.key."


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def fill(self):
        data = self.s.recv(1 << 20)
        if not data:
            raise EOFError("closed")
        self.buf = self.buf[self.pos:] + data
        self.pos = 0

    def line(self):
        while True:
            nl = self.buf.find(b"\n", self.pos)
            if nl >= 0:
                l = self.buf[self.pos:nl]
                self.pos = nl + 1
                return l[:-1] if l.endswith(b"\r") else l
            self.fill()

    def take(self, n):
        while len(self.buf) - self.pos < n:
            self.fill()
        v = self.buf[self.pos:self.pos + n]
        self.pos += n
        return v


def php_value(v, i, depth=0):
    """Skips one serialize() value at i; (end, string or None)."""
    t = v[i:i + 1]
    if t == b"N":
        return i + 2, None
    if t in (b"b", b"i", b"d"):
        return v.index(b";", i) + 1, None
    colon = v.index(b":", i + 2)
    n = int(v[i + 2:colon])
    if t == b"s":
        return colon + 2 + n + 2, v[colon + 2:colon + 2 + n]
    if t == b"O":
        colon2 = v.index(b":", colon + 3 + n + 1)
        n, colon = int(v[colon + 3 + n + 1:colon2]), colon2
    if t in (b"a", b"O"):
        j = colon + 2
        for _ in range(2 * n):
            j, _s = php_value(v, j, depth + 1)
        return j + 1, None
    raise ValueError("bad value")


def php_user(v):
    i = 0
    while i < len(v):
        bar = v.index(b"|", i)
        name = v[i:bar]
        i, s = php_value(v, bar + 1)
        if name == b"user" and s is not None:
            return s.decode("utf-8", "replace")
    return None


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    node = "%s:%d" % (host, port)
    dump, rd = Conn(host, port), Conn(host, port)
    dump.s.sendall(b"lru_crawler metadump all\r\n")
    out = sys.stdout
    done = False
    while not done:
        keys, sizes = [], []
        while len(keys) < 1000:
            l = dump.line()
            if l == b"END":
                done = True
                break
            fields = dict(f.split(b"=", 1) for f in l.split(b" ") if b"=" in f)
            key = fields.get(b"key")
            if not key or not key.startswith(PREFIX) or key.startswith(PREFIX + b"lock."):
                continue
            keys.append(key)
            sizes.append(int(fields.get(b"size", b"-1")))
        if not keys:
            continue
        rd.s.sendall(b"".join(b"mg " + k + b" s v t f l u\r\n" for k in keys))
        lines = []
        for k, size in zip(keys, sizes):
            h = rd.line().split(b" ")
            if h[0] != b"VA":
                continue
            flags = {f[:1]: f[1:] for f in h[2:]}
            value = rd.take(int(h[1]) + 2)[:-2]
            ttl = int(flags.get(b"t", b"-1"))
            try:
                user = php_user(value)
            except (ValueError, IndexError):
                user = None
            lines.append(json.dumps({
                "id": k[len(PREFIX):].decode(), "user": user, "node": node,
                "ttl_ms": -1 if ttl < 0 else ttl * 1000, "schema": "php-memcached", "created_at": None,
                "last_accessed_at": None, "size_bytes": size, "idle_ms": int(flags.get(b"l", b"0")) * 1000,
                "max_inactive_s": None, "key": k.decode()}, separators=(",", ":")))
        out.write("\n".join(lines) + "\n")


main()
