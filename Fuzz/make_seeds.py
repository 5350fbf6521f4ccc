#!/usr/bin/env python3
"""Writes the seed corpora (Fuzz/corpus/HARNESS/) from the test fixtures and a few
hand-written inputs per grammar. Run once; the result is committed."""
import binascii, glob, hashlib, json, os, sys

root = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(root)
out = os.path.join(root, "corpus")

def put(harness, data):
    d = os.path.join(out, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)

for path in glob.glob(os.path.join(repo, "Tests/Fixtures/java/*.bin")):
    data = open(path, "rb").read()
    put("java", data)
    put("attribute", data)

by_format = {"php-session": "php-session", "php": "php", "pickle": "pickle", "msgpack": "msgpack",
             "marshal": "marshal", "json": "json", "jwt": "jwt", "aspnet": "aspnet"}
for path in glob.glob(os.path.join(repo, "Tests/Fixtures/frameworks/*.json")):
    try:
        doc = json.load(open(path))
    except ValueError:
        continue
    for k in doc.get("keys", []):
        raw = k.get("value_hex")
        if not raw:
            continue
        data = binascii.unhexlify(raw)
        head = data[:2]
        if head[:1] == b"\x80":
            put("pickle", data)
        elif head == b"\x04\x08":
            put("marshal", data)
        elif data[:1] in (b"{", b"["):
            put("json", data)
        elif b"|" in data[:64]:
            put("php-session", data)
        elif data[1:2] == b":":
            put("php", data)
        elif data[:1] == b"\x02":
            put("aspnet", data)
        else:
            put("msgpack", data)
        put("attribute", data)

put("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTgwMDAwMDAwMH0.c2ln")
put("msgpack", bytes([0x82, 0xA4]) + b"user" + bytes([0xA5]) + b"alice" + bytes([0xA1]) + b"t" + bytes([0xD6, 0xFF, 0, 0, 0, 1]))
for f in ["user=alice* ttl<5m idle>10m", "size>4k attr.role~admin", "key=sess:* !~x", "1h30m", "500ms"]:
    put("filter", f)
put("toml", 'name = "x"\n[roles]\nheader = { fg = "red", attrs = ["bold"] }\n')
put("resp-request", b"\x05*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\nPING\r\nSESSION.PUT id 60 \"a b\" 'c'\n")
put("resp-reply", b"\x03*2\r\n$1\r\n0\r\n*1\r\n*6\r\n$2\r\nid\r\n$-1\r\n:-1\r\n:5\r\n:1\r\n:150\r\n+OK\r\n-MOVED n2 h:1\r\n")
put("resp-reply", b"\x07$40\r\nn1 127.0.0.1:7001 myself,up 12 334\nn2 x:1 up\r\n")
put("log-replay", b"*3\r\n$7\r\nLOG.DEL\r\n$2\r\nid\r\n$0\r\n\r\n")
put("memcached-lines", b"key=memc.sess.key.a%20b exp=1700000000 la=1699999000 cas=7 fetch=no cls=1 size=90\nEND\r\n"
    b"VA 5 t30 f1 s5 l2\r\nEN\r\nBUSY currently processing crawler request\r\n"
    b"ts=1700000000.5123 gid=9 type=eviction key=rack%3Asession%3Aab fetch=no ttl=10 la=3 clsid=1 size=70\nskipped=4\n"
    b"STAT curr_items 3\r\nops:p%40ss@h1:11311,h2")
import struct
def jstr(s):
    return b"\x74" + struct.pack(">H", len(s)) + s.encode()
integer = (b"\x73\x72" + struct.pack(">H", 17) + b"java.lang.Integer" + bytes.fromhex("12E2A0A4F7818738") + b"\x02"
           + struct.pack(">H", 1) + b"I" + struct.pack(">H", 5) + b"value\x78\x72" + struct.pack(">H", 16)
           + b"java.lang.Number" + bytes.fromhex("86AC951D0B94E08B") + b"\x02" + struct.pack(">H", 0) + b"\x78\x70"
           + struct.pack(">i", 1))
principal = b"\xAC\xED\x00\x05" + jstr("alice")
sid = b"0123456789ABCDEF0123456789ABCDEF-n1"
rest = (struct.pack(">qqi", 1700000000000, 1700000100000, 1800) + b"01" + struct.pack(">qq", 1700000100000, 0)
        + struct.pack(">H", len(sid)) + sid + struct.pack(">H", 0) + struct.pack(">H", len(principal)) + principal
        + struct.pack(">HH", 0, 0))
put("msm", struct.pack(">HH", 2, 4 + len(rest)) + rest + b"\xAC\xED\x00\x05" + integer + jstr("cart") + jstr("abc"))
put("msm", struct.pack(">iqq", 1800, 1, 2))
put("redis-replies", b"*1\r\n*4\r\n:0\r\n:5460\r\n*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$40\r\n"
    + b"a" * 40 + b"\r\n*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$40\r\n" + b"b" * 40 + b"\r\n")
put("redis-replies", b"*1\r\n*4\r\n$5\r\nslots\r\n*2\r\n:0\r\n:16383\r\n$5\r\nnodes\r\n*1\r\n*8\r\n$2\r\nid\r\n$1\r\nx\r\n"
    b"$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n:7000\r\n$4\r\nrole\r\n$6\r\nmaster\r\n")
put("redis-replies", b"$61\r\n# Keyspace\r\ndb0:keys=10,expires=5,avg_ttl=0\r\nused_memory:1000\r\nrole:m\r\n")
put("config", 'current-context = "prod"\n[contexts.prod]\nstores = ["redis://h:1"]\nread-only = true\nproduction = true\nlabel = "P"\ncolor = "#d70000"\n')
put("cluster-restore", b"*11\r\n$15\r\nCLUSTER.RESTORE\r\n$2\r\ns1\r\n$13\r\n1700000000000\r\n$13\r\n1700000001000\r\n"
    b"$7\r\n1800000\r\n$2\r\n-1\r\n$5\r\nalice\r\n$1\r\n1\r\n$4\r\ncart\r\n$3\r\n\x00\xff\x41\r\n")
put("resp-differential", b"+OK\r\n-ERR no\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n*0\r\n*-1\r\n$0\r\n\r\n")
print("seeds:", sum(len(fs) for _, _, fs in os.walk(out)))
