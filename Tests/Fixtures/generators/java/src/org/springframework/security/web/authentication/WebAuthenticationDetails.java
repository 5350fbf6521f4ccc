package org.springframework.security.web.authentication;
public class WebAuthenticationDetails implements java.io.Serializable {
    private static final long serialVersionUID = 620L;
    private final String remoteAddress;
    private final String sessionId;
    public WebAuthenticationDetails(String remoteAddress, String sessionId) { this.remoteAddress = remoteAddress; this.sessionId = sessionId; }
}
