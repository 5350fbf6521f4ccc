import COpenSSL
import SessionFormats

/// Django's signature of signed data (`django.core.signing.TimestampSigner`, SHA-256): the
/// HMAC of `payload:timestamp` under `sha256(salt + "signer" + SECRET_KEY)`, URL-safe base64
/// without padding, after the last `:`. The sessions' salt is
/// `django.contrib.sessions.SessionStore`. Compared in constant time.
enum DjangoSignature {
    static let sessionSalt = "django.contrib.sessions.SessionStore"

    static func verify(_ text: String, secret: String, salt: String = sessionSalt) -> Bool {
        guard let last = text.lastIndex(of: ":") else { return false }
        let value = Array(text[..<last].utf8)
        let given = Array(text[text.index(after: last)...].utf8)
        let keyInput = Array((salt + "signer" + secret).utf8)
        var key = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        _ = SHA256(keyInput, keyInput.count, &key)
        var mac = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard HMAC(EVP_sha256(), key, Int32(key.count), value, value.count, &mac, &length) != nil else { return false }
        let expected = Base64URL.encode(Array(mac.prefix(Int(length))))
        guard expected.count == given.count else { return false }
        var diff: UInt8 = 0
        for (a, b) in zip(expected, given) { diff |= a ^ b }
        return diff == 0
    }
}
