import RedisClient
import Foundation
let p = Process()
p.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
p.arguments = ["--port", "6398", "--save", ""]
p.standardOutput = FileHandle.nullDevice
try p.run()
usleep(300_000)
print("started")
let c = RedisClient(url: try RedisURL("redis://127.0.0.1:6398"), reconnectAttempts: 1)
do { let r = try await c.send(RedisCommand("PING")); print(r) } catch { print("err", error) }
p.terminate()
