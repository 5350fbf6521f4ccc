package org.springframework.security.core.context;
import org.springframework.security.core.Authentication;
// Stand-in with the fields of Spring Security 6.2's SecurityContextImpl.
public class SecurityContextImpl implements java.io.Serializable {
    private static final long serialVersionUID = 620L;
    private Authentication authentication;
    public SecurityContextImpl(Authentication authentication) { this.authentication = authentication; }
}
