package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// build turns the TLS settings into a *tls.Config; nil when TLS is off.
// defaultServerName is the name the server's certificate is verified against
// when server_name is unset: a shard's host. Kafka and the registry pass "":
// franz-go sets each broker's dial host per connection and net/http the
// URL's host, while a MySQL client has only this config (without a name the
// handshake of a verifying client can never succeed).
func (t *TLSConfig) build(defaultServerName string) (*tls.Config, error) {
	if t == nil || !t.Enabled {
		return nil, nil
	}
	name := t.ServerName
	if name == "" {
		name = defaultServerName
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: name, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // opt-in, documented, warned about
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate found", t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("cert_file/key_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// tlsSetupFailure reports whether err is a TLS handshake that fails on the
// settings or the server's certificate, so that the same settings fail it
// again: a certificate that does not verify (wrong server_name, unknown CA,
// expired), a server that refused our certificate or our TLS parameters, a
// server that does not speak TLS at all. Retrying those would hide a
// configuration error behind an endless restart loop.
func tlsSetupFailure(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		hostname x509.HostnameError
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		alert    tls.AlertError
	)
	switch {
	case errors.As(err, &verify), errors.As(err, &hostname), errors.As(err, &unknown), errors.As(err, &invalid):
		return true
	case errors.As(err, &record): // plaintext server, TLS client
		return true
	case errors.As(err, &alert):
		// Alerts the server sends about our certificate or parameters; not
		// internal_error or close_notify, which a restart may cure.
		switch alert {
		case 40, 42, 43, 44, 45, 46, 48, 70, 71, 116: // handshake_failure, bad/unsupported/revoked/expired/unknown certificate, unknown_ca, protocol_version, insufficient_security, certificate_required
			return true
		}
	}
	// go-mysql's own error for a server without TLS (it has no type).
	return strings.Contains(err.Error(), "does not support TLS required by the client")
}
