"""Sessions of the frameworks that cannot run on this machine, built from each framework's
source-documented layout (each framework's public source; repositories named per entry) into
Tests/Fixtures/frameworks/formats.json, in the format of dump_redis.py:

- Laravel: the cache stores serialize(serialize($attributes)) under
  `laravel_database_laravel_cache_:<40 chars>` (PHP's real serialize(), via php-cli).
- Symfony: RedisSessionHandler stores the `php` session encoding of $_SESSION under
  `sf_s<id>`, with `_sf2_attributes`, `_sf2_meta` (c/u/l) and the security token
  serialized under `_security_main` (php-cli's session_encode() and serialize()).
- Rails redis-session-store / redis-rack / cache store: Ruby Marshal 4.8 written by the
  small writer below (no Ruby here), keys `2::<sha256>`, `rack:session:2::<sha256>`,
  `_session_id:2::<sha256>`, with Warden's `warden.user.user.key` = [[id], salt].
- ASP.NET Core: a HASH with `absexp`, `sldexp` (.NET ticks) and `data` (DistributedSession
  revision 2), key `<InstanceName><GUID>`.
- Go redistore: bytes shaped like gob (not decoded by the console: shown as hex + strings).
- Vapor (`vrs-`), Hummingbird (`hbs.`): JSON. JWT allow/deny lists: a JWT / "1".
Usage: generate.py OUT.json"""
import base64, hashlib, json, struct, subprocess, sys

out = sys.argv[1]
keys = []


def php(code):
    return subprocess.run(["php", "-r", code], check=True, capture_output=True).stdout


def string_key(key, value, ttl_ms=1_800_000):
    keys.append({"key": key, "key_hex": key.encode().hex(), "type": "string", "ttl_ms": ttl_ms, "value_hex": value.hex()})


# Laravel (Illuminate\Session\Store::save -> CacheBasedSessionHandler -> RedisStore::put).
lv = php('echo serialize(serialize(["_token" => "tok", "_previous" => ["url" => "http://shop/cart"], '
         '"_flash" => ["old" => [], "new" => []], "login_web_59ba36addc2b2f9401580f014c7f58ea4e30989d" => 17, "cart" => ["tea" => 2]]));')
string_key("laravel_database_laravel_cache_:" + "A" * 40, lv, 7_200_000)

# Symfony (Symfony\Component\HttpFoundation\Session\Storage\Handler\RedisSessionHandler).
sf = php('session_start(["use_cookies" => 0]); '
         '$token = serialize(["user" => ["username" => "bob", "roles" => ["ROLE_USER"]], "firewall" => "main"]); '
         '$_SESSION = ["_sf2_attributes" => ["_security_main" => $token, "cart" => ["mug" => 1]], '
         '"_sf2_meta" => ["u" => 1764201600, "c" => 1764198000, "l" => 3600], "_sf2_flashes" => []]; echo session_encode();')
string_key("sf_s" + "k3v9" * 8, sf, 3_600_000)


# Ruby Marshal 4.8 writer (the subset Rails sessions use).
def m_int(n):
    if n == 0:
        return b"\x00"
    if 0 < n < 123:
        return bytes([n + 5])
    if -124 < n < 0:
        return struct.pack("b", n - 5)
    b = n.to_bytes(4, "little", signed=True).rstrip(b"\x00" if n > 0 else b"\xff")
    return struct.pack("b", len(b) if n > 0 else -len(b)) + b


def m_val(v, syms):
    if v is None:
        return b"0"
    if v is True:
        return b"T"
    if v is False:
        return b"F"
    if isinstance(v, int):
        return b"i" + m_int(v)
    if isinstance(v, str):
        b = v.encode()
        if "E" in syms:
            enc = b";" + m_int(syms.index("E"))
        else:
            syms.append("E")
            enc = b":" + m_int(1) + b"E"
        return b'I"' + m_int(len(b)) + b + m_int(1) + enc + b"T"
    if isinstance(v, list):
        return b"[" + m_int(len(v)) + b"".join(m_val(x, syms) for x in v)
    if isinstance(v, dict):
        return b"{" + m_int(len(v)) + b"".join(m_val(k, syms) + m_val(x, syms) for k, x in v.items())
    raise TypeError(v)


def marshal(v):
    return b"\x04\x08" + m_val(v, [])


rails = {"session_id": "b" * 32, "_csrf_token": "csrf==", "warden.user.user.key": [[23], "$2a$12$abcdefghijklmnopqrstuv"],
         "cart": {"items": 3}, "locale": "de"}
for prefix, user in [("", 23), ("rack:session:", 24), ("_session_id:", 25)]:
    rails["warden.user.user.key"] = [[user], "$2a$12$abcdefghijklmnopqrstuv"]
    string_key(prefix + "2::" + hashlib.sha256(f"public-{user}".encode()).hexdigest(), marshal(rails), 1_209_600_000)

# ASP.NET Core (Microsoft.AspNetCore.Session.DistributedSession, revision 2).
entries = [("UserName", b"carol"), ("Cart", b'{"items":1}'), ("Visits", struct.pack(">i", 5))]
blob = bytes([2]) + len(entries).to_bytes(3, "big") + bytes(range(16))
for k, v in entries:
    blob += len(k).to_bytes(2, "big") + k.encode() + len(v).to_bytes(4, "big") + v
key = "shop:" + "8f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
keys.append({"key": key, "key_hex": key.encode().hex(), "type": "hash", "ttl_ms": 1_200_000,
             "fields_hex": {"absexp": b"-1".hex(), "sldexp": b"12000000000".hex(), "data": blob.hex()}})

# Go gorilla redistore (gob of map[interface{}]interface{}); only strings are shown.
string_key("session_" + "MZXW6YTBOI" * 5 + "AB", bytes.fromhex("0eff81040102ff820001100110000027ff820001") + b"\x06string\x0c\x06\x00\x04user\x06string\x0c\x07\x00\x05alice", 86_400_000)

# Vapor, Hummingbird: JSON.
string_key("vrs-" + base64.b64encode(b"vapor-session-1").decode(), b'{"user":"dave","cart":"2"}', -1)
string_key("hbs." + base64.b64encode(b"hb-session-1").decode(), b'{"userId":"erin","expires":1764201600}', 3_600_000)


# JWT allow and deny lists.
def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


jwt = b64u(b'{"alg":"HS256","typ":"JWT"}') + "." + b64u(b'{"sub":"frank","jti":"j1","exp":1764205200}') + "." + b64u(b"not-a-real-signature")
string_key("allowlist:j1", jwt.encode(), 3_600_000)
string_key("denylist:j0", b"1", 3_600_000)

with open(out, "w") as fh:
    json.dump({"origin": "built from the frameworks' documented layouts by Tests/Fixtures/generators/formats/generate.py "
                         "(PHP values by php-cli " + php("echo PHP_VERSION;").decode() + "; see that file)", "keys": keys},
              fh, indent=1, sort_keys=True)
print(f"{out}: {len(keys)} keys")
