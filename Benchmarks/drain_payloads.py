"""Writes the RESP payloads of run-drain.sh: N sessions for sessiond (load.resp), the same
sessions as Redis hashes with a TTL (rload.resp), and MIGRATE ... KEYS batches of 500 to
the Redis at TARGET_PORT (rmigrate.resp).  Usage: drain_payloads.py N TARGET_PORT OUTDIR"""
import sys

n, target, outdir = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def writer(name):
    f = open(f"{outdir}/{name}", "wb")

    def cmd(*args):
        f.write(b"*%d\r\n" % len(args))
        for a in args:
            a = a.encode()
            f.write(b"$%d\r\n%s\r\n" % (len(a), a))
    return f, cmd


def fields(i):
    return ["en-GB", '{"items":%d}' % (i % 9), "/catalog"]


f, cmd = writer("load.resp")
for i in range(n):
    locale, cart, page = fields(i)
    cmd("SESSION.PUT", "sess-%07d" % i, "1800", "PRINCIPAL", "user%d" % (i % 5000),
        "ATTR", "locale", locale, "ATTR", "cart", cart, "ATTR", "lastPage", page)
f.close()

f, cmd = writer("rload.resp")
for i in range(n):
    k = "sess:sess-%07d" % i
    locale, cart, page = fields(i)
    cmd("HSET", k, "principal", "user%d" % (i % 5000), "locale", locale, "cart", cart, "lastPage", page)
    cmd("EXPIRE", k, "1800")
f.close()

f, cmd = writer("rmigrate.resp")
for start in range(0, n, 500):
    keys = ["sess:sess-%07d" % i for i in range(start, min(n, start + 500))]
    cmd("MIGRATE", "127.0.0.1", target, "", "0", "5000", "KEYS", *keys)
f.close()
