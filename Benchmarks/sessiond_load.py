"""Load generators for Benchmarks/run-sessiond.sh (plain sockets, no client library).

  sessiond_load.py memory PORT [long]  writes 100,000 sessions (a user, three small attributes;
                                   `long`: 41-byte ids and e-mail addresses as users)
  sessiond_load.py lateness PORT   1,000,000 live sessions, then 10,000 sharing a deadline
                                   20 s ahead; times every expired event at a subscriber
"""
import socket, sys, threading, time


def cmd(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def load(port, commands, batch=2000):
    """Sends commands in pipelined batches, waiting for each batch's replies."""
    s = socket.create_connection(("127.0.0.1", port))
    for i in range(0, len(commands), batch):
        chunk = commands[i:i + batch]
        s.sendall(b"".join(chunk))
        got = b""
        while got.count(b"\r\n") < len(chunk):
            got += s.recv(1 << 16)
    s.close()


def memory(port, long_keys=False):
    """Short ids and user names (fit in 15 bytes), or long ones like real deployments':
    41-byte ids (a UUID's length) and e-mail addresses (same shapes as the Redis load)."""
    def names(i):
        if long_keys:
            return "sess-%036d" % i, "user%d@example.com" % (i % 1000)
        return "m:%d" % i, "user%d" % (i % 1000)
    load(port, [cmd("SESSION.PUT", names(i)[0], "1800", "PRINCIPAL", names(i)[1],
                    "ATTR", "a", "1", "ATTR", "b", "2", "ATTR", "c", "3") for i in range(100_000)])


def lateness(port):
    load(port, [cmd("SESSION.PUT", "live:%d" % i, "3600", "PRINCIPAL", "u%d" % (i % 5000)) for i in range(1_000_000)])
    deadline = int(time.time() * 1000) + 20_000
    sub = socket.create_connection(("127.0.0.1", port))
    sub.sendall(cmd("SUBSCRIBE", "sessiond:events"))
    arrivals = []

    def reader():
        # Scans each chunk with a moving offset: slicing the buffer after every event would
        # copy it again and again and make the subscriber, not the server, look late.
        buf = b""
        while len(arrivals) < 10_000:
            data = sub.recv(1 << 16)
            if not data:
                break
            now = time.time() * 1000
            buf += data
            pos = 0
            while True:
                i = buf.find(b'{"event":"expired"', pos)
                if i < 0:
                    break
                j = buf.find(b"}", i)
                if j < 0:
                    break
                if b'"exp:' in buf[i:j]:
                    arrivals.append(now)
                pos = j + 1
            buf = buf[pos:] if pos else buf[-200:]

    t = threading.Thread(target=reader)
    t.start()
    load(port, [cmd("SESSION.PUT", "exp:%d" % i, "-1", "DEADLINE", str(deadline)) for i in range(10_000)])
    t.join(timeout=90)
    late = sorted(a - deadline for a in arrivals)

    def pct(p):
        return late[min(len(late) - 1, int(p * len(late)))] if late else float("nan")

    print("expiry lateness with 1,000,000 live sessions: %d of 10,000 expired events received; "
          "lateness p50 %.0f ms, p99 %.0f ms, max %.0f ms"
          % (len(late), pct(0.5), pct(0.99), late[-1] if late else float("nan")))


if __name__ == "__main__":
    if sys.argv[1] == "memory":
        memory(int(sys.argv[2]), len(sys.argv) > 3 and sys.argv[3] == "long")
    else:
        lateness(int(sys.argv[2]))
