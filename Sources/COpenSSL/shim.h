#ifndef SESSIONCTL_COPENSSL_SHIM_H
#define SESSIONCTL_COPENSSL_SHIM_H
// OpenSSL 3 (Debian libssl-dev) for TLS to Redis: hiredis 0.14 has none, so RedisClient
// runs the TLS session itself and feeds the decrypted bytes to hiredis' RESP reader.
// Several OpenSSL calls are macros Swift cannot import: wrapped here.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
// HMAC-SHA256 for checking Django's signed session data against its secret key.
#include <openssl/hmac.h>
#include <openssl/sha.h>

static inline long cos_set_min_tls12(SSL_CTX *ctx) { return SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION); }
static inline long cos_set_sni(SSL *ssl, const char *name) { return SSL_set_tlsext_host_name(ssl, name); }
/// The text of the oldest queued OpenSSL error (empty when none), clearing the queue.
static inline void cos_error_text(char *buf, size_t len) {
    unsigned long e = ERR_get_error();
    if (e == 0) { if (len) buf[0] = 0; } else { ERR_error_string_n(e, buf, len); }
    ERR_clear_error();
}
#endif
