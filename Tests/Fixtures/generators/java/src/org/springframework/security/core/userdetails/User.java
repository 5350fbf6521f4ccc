package org.springframework.security.core.userdetails;
import java.util.*;
import org.springframework.security.core.GrantedAuthority;
public class User implements java.io.Serializable {
    private static final long serialVersionUID = 620L;
    private String password;
    private final String username;
    private final Set<GrantedAuthority> authorities;
    private final boolean accountNonExpired = true;
    private final boolean accountNonLocked = true;
    private final boolean credentialsNonExpired = true;
    private final boolean enabled = true;
    public User(String username, Collection<? extends GrantedAuthority> authorities) {
        this.username = username;
        this.password = null; // eraseCredentials()
        SortedSet<GrantedAuthority> sorted = new TreeSet<>(new AuthorityComparator());
        sorted.addAll(authorities);
        this.authorities = Collections.unmodifiableSet(sorted);
    }
    private static class AuthorityComparator implements Comparator<GrantedAuthority>, java.io.Serializable {
        private static final long serialVersionUID = 620L;
        public int compare(GrantedAuthority a, GrantedAuthority b) { return a.getAuthority().compareTo(b.getAuthority()); }
    }
}
