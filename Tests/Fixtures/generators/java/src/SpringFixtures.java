// Writes the Java-serialized values Spring Session stores in Redis with its default
// JdkSerializationRedisSerializer (= ObjectOutputStream), byte for byte, for the tests.
//
// Spring Security's jars are not reachable from this machine (no Maven Central), so the
// security classes below are stand-ins declared under Spring's own package names with the
// same fields, field types, class hierarchy and serialVersionUID (620L, Spring Security
// 6.2's SpringSecurityCoreVersion.SERIAL_VERSION_UID). The serialization stream depends
// only on those, so the bytes have the shape a real application writes.
//
// Run: ./generate.sh (javac + java, JDK 17). Output: ../../java/*.bin
import java.io.*;
import java.nio.file.*;
import java.util.*;

public class SpringFixtures {
    static void write(String name, Object value) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) { out.writeObject(value); }
        Files.write(Paths.get(System.getProperty("out"), name), bytes.toByteArray());
    }

    static Object context(String user, String... roles) {
        List<org.springframework.security.core.authority.SimpleGrantedAuthority> auths = new ArrayList<>();
        for (String r : roles) auths.add(new org.springframework.security.core.authority.SimpleGrantedAuthority(r));
        org.springframework.security.core.userdetails.User principal =
            new org.springframework.security.core.userdetails.User(user, auths);
        org.springframework.security.authentication.UsernamePasswordAuthenticationToken token =
            new org.springframework.security.authentication.UsernamePasswordAuthenticationToken(principal, auths);
        token.setDetails(new org.springframework.security.web.authentication.WebAuthenticationDetails("10.1.2.3", "old-session-id"));
        return new org.springframework.security.core.context.SecurityContextImpl(token);
    }

    public static void main(String[] args) throws Exception {
        write("string-alice.bin", "alice");
        write("string-unicode.bin", "J\u00f6rg \u20ac \uD83D\uDE00 \u0000end");
        write("long-creation.bin", Long.valueOf(1764190000123L));
        write("integer-1800.bin", Integer.valueOf(1800));
        write("expires-member.bin", "expires:2f0d8b7e-6c8a-4d6e-9b4f-0c1a2b3c4d5e");
        write("security-context-alice.bin", context("alice", "ROLE_USER", "ROLE_ADMIN"));
        write("security-context-bob.bin", context("bob", "ROLE_USER"));
        write("security-context-carol.bin", context("carol", "ROLE_USER"));
        // A String principal (e.g. an OAuth subject) instead of a UserDetails.
        org.springframework.security.authentication.UsernamePasswordAuthenticationToken plain =
            new org.springframework.security.authentication.UsernamePasswordAuthenticationToken("dave@example.com", new ArrayList<>());
        write("security-context-string-principal.bin", new org.springframework.security.core.context.SecurityContextImpl(plain));
        // Collections and arrays, as applications put them in sessions.
        ArrayList<Object> cart = new ArrayList<>(Arrays.asList("sku-1", "sku-2", Integer.valueOf(3)));
        write("arraylist-cart.bin", cart);
        LinkedHashMap<String, Object> prefs = new LinkedHashMap<>();
        prefs.put("theme", "dark"); prefs.put("pageSize", Integer.valueOf(50)); prefs.put("beta", Boolean.TRUE);
        write("hashmap-prefs.bin", prefs);
        write("int-array.bin", new int[] {1, 2, 3});
        write("byte-array.bin", new byte[] {0x1b, '[', '2', 'J', (byte) 0xff});
        write("enum-timeunit.bin", java.util.concurrent.TimeUnit.MINUTES);
        // A value whose text carries a terminal escape sequence.
        write("string-escape.bin", "\u001b]0;pwned\u0007\u001b[2Jhello");
        // Shared references (handles): the same string twice in one object graph.
        String shared = "shared-value";
        write("arraylist-shared-refs.bin", new ArrayList<>(Arrays.asList(shared, shared, shared)));
    }
}
