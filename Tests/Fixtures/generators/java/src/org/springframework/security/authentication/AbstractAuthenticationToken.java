package org.springframework.security.authentication;
import java.util.*;
import org.springframework.security.core.*;
public abstract class AbstractAuthenticationToken implements Authentication, CredentialsContainer {
    private final Collection<GrantedAuthority> authorities;
    private Object details;
    private boolean authenticated = false;
    public AbstractAuthenticationToken(Collection<? extends GrantedAuthority> authorities) {
        this.authorities = Collections.unmodifiableList(new ArrayList<>(authorities));
    }
    public void setDetails(Object details) { this.details = details; }
    protected void setAuthenticatedFlag(boolean b) { this.authenticated = b; }
    public String getName() { return ""; }
}
