"""Dumps every key of a Redis (type, value bytes as hex, TTL) to a JSON fixture file, so
the test suite can restore exactly what a framework wrote without running the framework.
Usage: dump_redis.py PORT OUT.json "how the data was written" """
import json, socket, sys

port, out, origin = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")


def call(*args):
    req = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        req += b"$%d\r\n%s\r\n" % (len(a), a)
    s.sendall(req)
    return read()


def read():
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t in (b"+", b"-"):
        return rest
    if t == b":":
        return int(rest)
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if t == b"*":
        return [read() for _ in range(int(rest))]
    raise ValueError(line)


keys = []
cursor = b"0"
while True:
    cursor, batch = call("SCAN", cursor, "COUNT", 1000)
    keys += batch
    if cursor == b"0":
        break
entries = []
for k in sorted(keys):
    t = call("TYPE", k).decode()
    e = {"key_hex": k.hex(), "key": k.decode("utf-8", "replace"), "type": t, "ttl_ms": call("PTTL", k)}
    if t == "string":
        e["value_hex"] = call("GET", k).hex()
    elif t == "hash":
        flat = call("HGETALL", k)
        e["fields_hex"] = {flat[i].decode(): flat[i + 1].hex() for i in range(0, len(flat), 2)}
    elif t == "set":
        e["members_hex"] = sorted(m.hex() for m in call("SMEMBERS", k))
    entries.append(e)
with open(out, "w") as fh:
    json.dump({"origin": origin, "keys": entries}, fh, indent=1, sort_keys=True)
print(f"{out}: {len(entries)} keys")
