package org.springframework.security.core.authority;
public final class SimpleGrantedAuthority implements org.springframework.security.core.GrantedAuthority {
    private static final long serialVersionUID = 620L;
    private final String role;
    public SimpleGrantedAuthority(String role) { this.role = role; }
    public String getAuthority() { return role; }
}
