/// A hash index over the engine's slots: open addressing with linear probing, buckets
/// holding slot numbers. The keys live in the slots, so an entry costs 5 bytes (a
/// `[String: Int32]` costs a 16-byte key copy, a value and a bucket's share). Each bucket
/// has a one-byte tag from its key's hash (0: empty), kept apart so a probe reads the small
/// tag array and looks at a slot, a likely cache miss, only when the tag matches. Callers
/// pass the key's hash and a test that a slot holds the key. Deletion shifts the following
/// entries back, so there are no tombstones and lookups never slow down with churn.
struct SlotTable {
    private var tags = [UInt8](repeating: 0, count: 16)
    private var buckets = [Int32](repeating: -1, count: 16)
    private(set) var count = 0
    private var mask: Int { buckets.count - 1 }

    /// Never 0 (empty); from the hash's top bits, as the bucket comes from its low bits.
    @inline(__always) private static func tag(_ hash: UInt32) -> UInt8 { UInt8(truncatingIfNeeded: hash >> 25) | 0x80 }

    /// The slot holding the key, nil when none does.
    @inline(__always)
    func find(_ hash: UInt32, _ holds: (Int32) -> Bool) -> Int32? {
        let t = SlotTable.tag(hash)
        var i = Int(hash) & mask
        while true {
            let tag = tags[i]
            if tag == 0 { return nil }
            if tag == t, holds(buckets[i]) { return buckets[i] }
            i = (i + 1) & mask
        }
    }

    /// Adds a slot (whose key is not present). `hashOf` gives a stored slot's hash (growing
    /// re-places every entry).
    mutating func insert(_ slot: Int32, hash: UInt32, hashOf: (Int32) -> UInt32) {
        if (count + 1) * 4 > buckets.count * 3 { grow(hashOf) }
        place(slot, hash)
        count += 1
    }

    /// Points the key's entry at another slot (same key, same hash).
    mutating func replace(_ old: Int32, with new: Int32, hash: UInt32) {
        guard let i = position(of: old, hash: hash) else { return }
        buckets[i] = new
    }

    mutating func remove(_ slot: Int32, hash: UInt32, hashOf: (Int32) -> UInt32) {
        guard var i = position(of: slot, hash: hash) else { return }
        tags[i] = 0
        buckets[i] = -1
        count -= 1
        // Shift back every following entry of the run that may move into the hole.
        var j = i
        while true {
            j = (j + 1) & mask
            if tags[j] == 0 { return }
            let b = buckets[j]
            let home = Int(hashOf(b)) & mask
            if (j - home) & mask >= (j - i) & mask {
                tags[i] = tags[j]
                buckets[i] = b
                tags[j] = 0
                buckets[j] = -1
                i = j
            }
        }
    }

    /// Every slot in the table (consistency checks).
    var slots: [Int32] { buckets.filter { $0 >= 0 } }

    /// Whether every entry sits in its run with the tag of its slot's hash (consistency checks).
    func isConsistent(hashOf: (Int32) -> UInt32) -> Bool {
        for i in buckets.indices where buckets[i] >= 0 {
            let h = hashOf(buckets[i])
            if tags[i] != SlotTable.tag(h) { return false }
            var k = Int(h) & mask
            while k != i {
                if tags[k] == 0 { return false }
                k = (k + 1) & mask
            }
        }
        return buckets.indices.allSatisfy { (tags[$0] == 0) == (buckets[$0] < 0) }
    }

    private func position(of slot: Int32, hash: UInt32) -> Int? {
        var i = Int(hash) & mask
        while tags[i] != 0 {
            if buckets[i] == slot { return i }
            i = (i + 1) & mask
        }
        return nil
    }

    private mutating func place(_ slot: Int32, _ hash: UInt32) {
        var i = Int(hash) & mask
        while tags[i] != 0 { i = (i + 1) & mask }
        tags[i] = SlotTable.tag(hash)
        buckets[i] = slot
    }

    private mutating func grow(_ hashOf: (Int32) -> UInt32) {
        let old = buckets
        tags = [UInt8](repeating: 0, count: old.count * 2)
        buckets = [Int32](repeating: -1, count: old.count * 2)
        for b in old where b >= 0 { place(b, hashOf(b)) }
    }
}

/// The hash of a key for the slot tables: Swift's seeded SipHash over the UTF-8 bytes, so
/// ids chosen by a client cannot be crafted to collide (FNV would let them).
@inline(__always)
func keyHash(_ key: String) -> UInt32 {
    var key = key
    return key.withUTF8 { bytes in
        var h = Hasher()
        h.combine(bytes: UnsafeRawBufferPointer(bytes))
        return UInt32(truncatingIfNeeded: h.finalize())
    }
}
