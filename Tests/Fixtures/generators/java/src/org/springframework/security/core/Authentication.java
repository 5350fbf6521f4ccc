package org.springframework.security.core;
public interface Authentication extends java.security.Principal, java.io.Serializable {}
