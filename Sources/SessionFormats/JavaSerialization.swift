import SessionKit

/// A reader for the Java Object Serialization stream format (JOSS, chapter 6 of the
/// specification), as written by `ObjectOutputStream` and so by Spring's
/// `JdkSerializationRedisSerializer`.
///
/// It follows the stream grammar and builds a description of what the stream holds:
/// class names, field values, array elements, block data. It never loads or instantiates a
/// class, so a hostile stream (gadget chains included) is just data. Depth, element counts
/// and total nodes are bounded; every malformed input is a `JavaStreamError` with the offset.
public enum JavaStream {
    public static let magic: [UInt8] = [0xAC, 0xED, 0x00, 0x05]

    public struct Limits: Sendable {
        public var maxDepth = 64
        public var maxNodes = 200_000
        public var maxArrayLength = 1 << 20
        public init() {}
    }

    /// Whether the bytes start like a serialization stream.
    public static func looksLikeStream(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0xAC && bytes[1] == 0xED
    }

    /// Decodes the first content of the stream (one object, string, array...).
    public static func decode(_ bytes: [UInt8], limits: Limits = Limits()) throws(JavaStreamError) -> JavaValue {
        var r = JavaStreamReader(bytes: bytes, limits: limits)
        return try r.readStream()
    }
}

extension JavaStream {
    /// Every content of a stream that holds several (objects written one after another),
    /// with the byte range each came from.
    public static func decodeAll(_ bytes: [UInt8], max: Int = 100_000, limits: Limits = Limits())
        throws(JavaStreamError) -> [(value: JavaValue, range: Range<Int>)]
    {
        var r = JavaStreamReader(bytes: bytes, limits: limits)
        return try r.readAllContents(max: max).map { ($0.0, $0.1) }
    }
}

public struct JavaStreamError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public var offset: Int
    public var description: String { "Java serialization: \(message) at byte \(offset)" }
}

/// What a Java stream holds, described, never instantiated.
public indirect enum JavaValue: Sendable, Equatable {
    case null
    case string(String)
    case bool(Bool)
    case byte(Int8)
    case char(UInt16)
    case short(Int16)
    case int(Int32)
    case long(Int64)
    case float(Float)
    case double(Double)
    /// An object: its class, fields of the whole class chain (superclass first), and the
    /// extra contents its `writeObject` wrote (annotations: objects and block data).
    case object(JavaObject)
    case array(className: String, elements: [JavaValue])
    case enumConstant(className: String, name: String)
    case classReference(String)
    case blockData([UInt8])
    /// A reference to an object still being read (a cycle); `handle` identifies it.
    case cycle(handle: Int)

    /// The named field of an object, searched through the class chain.
    public func field(_ name: String) -> JavaValue? {
        guard case .object(let o) = self else { return nil }
        return o.fields.last(where: { $0.name == name })?.value
    }

    public var className: String? {
        switch self {
        case .object(let o): return o.className
        case .array(let c, _), .enumConstant(let c, _): return c
        default: return nil
        }
    }
}

public struct JavaObject: Sendable, Equatable {
    public var className: String
    public var fields: [JavaField]
    public var annotations: [JavaValue]
}

public struct JavaField: Sendable, Equatable {
    public var name: String
    public var value: JavaValue
}

/// A class descriptor as the stream declares it.
struct JavaClassDesc {
    struct FieldDesc {
        var type: UInt8
        var name: String
        var className: String?
    }
    var name: String
    var flags: UInt8
    var fields: [FieldDesc]
    var superDesc: Int?  // index into the reader's descriptor table
    var isProxy: Bool = false
}

/// The stream's type codes (Java Object Serialization Specification, 6.4.2), named once for
/// the reader, the writer and the fast paths.
enum JavaTypeCode {
    static let null: UInt8 = 0x70
    static let reference: UInt8 = 0x71
    static let classDesc: UInt8 = 0x72
    static let object: UInt8 = 0x73
    static let string: UInt8 = 0x74
    static let array: UInt8 = 0x75
    static let `class`: UInt8 = 0x76
    static let blockData: UInt8 = 0x77
    static let endBlockData: UInt8 = 0x78
    static let reset: UInt8 = 0x79
    static let blockDataLong: UInt8 = 0x7A
    static let exception: UInt8 = 0x7B
    static let longString: UInt8 = 0x7C
    static let proxyClassDesc: UInt8 = 0x7D
    static let `enum`: UInt8 = 0x7E
}
