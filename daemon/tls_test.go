package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestTLSServerNameDefaultsToHost(t *testing.T) {
	on := &TLSConfig{Enabled: true}
	c, err := on.build("db-7.internal")
	if err != nil || c.ServerName != "db-7.internal" {
		t.Fatalf("server_name unset: ServerName %q (%v), want the shard's host", c.ServerName, err)
	}
	named := &TLSConfig{Enabled: true, ServerName: "mysql.example"}
	if c, _ := named.build("10.0.0.7"); c.ServerName != "mysql.example" {
		t.Errorf("server_name set: ServerName %q, want mysql.example", c.ServerName)
	}
	if c, _ := (&TLSConfig{}).build("h"); c != nil {
		t.Errorf("TLS off: %+v, want nil", c)
	}
}

// testCA makes a CA and a server certificate for 127.0.0.1 and localhost.
func testCA(t *testing.T) (caFile string, server tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srv := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	srvDER, err := x509.CreateCertificate(rand.Reader, srv, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
}

// handshake runs a TLS handshake over loopback TCP (a net.Pipe has no
// buffer, and TLS 1.3's flights would deadlock on it) and returns the
// client's error.
func handshake(t *testing.T, client *tls.Config, server tls.Certificate) error {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{server}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		_ = s.(*tls.Conn).Handshake()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	return tls.Client(c, client).Handshake()
}

func TestTLSSetupFailuresAreTerminal(t *testing.T) {
	caFile, server := testCA(t)
	otherCA, _ := testCA(t)
	build := func(ca, serverName, host string) *tls.Config {
		c, err := (&TLSConfig{Enabled: true, CAFile: ca, ServerName: serverName}).build(host)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if err := handshake(t, build(caFile, "", "127.0.0.1"), server); err != nil {
		t.Fatalf("server_name unset, host 127.0.0.1: %v", err)
	}
	if err := handshake(t, build(caFile, "", "localhost"), server); err != nil {
		t.Fatalf("server_name unset, host localhost: %v", err)
	}
	wrongName := handshake(t, build(caFile, "db.wrong.example", "127.0.0.1"), server)
	unknownCA := handshake(t, build(otherCA, "", "127.0.0.1"), server)
	for name, err := range map[string]error{"wrong server_name": wrongName, "unknown CA": unknownCA} {
		if err == nil {
			t.Fatalf("%s: handshake succeeded", name)
		}
		// As the stages wrap it (go-mysql, the binlog reader, the pipeline).
		wrapped := inStage(stageBinlog, fmt.Errorf("binlog: shard s1: check prerequisites: connect: %w", err))
		if c := Classify(wrapped); c.Retryable() || c.Name != "tls" {
			t.Errorf("%s: class %+v, want terminal tls (%v)", name, c, err)
		}
	}
	// A network error stays retryable.
	if c := Classify(inStage(stageBinlog, fmt.Errorf("connect: %w", io.ErrUnexpectedEOF))); !c.Retryable() {
		t.Errorf("a network error became terminal: %+v", c)
	}
	// A TLS client on a plaintext server.
	plain := tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}
	if c := Classify(inStage(stageKafka, fmt.Errorf("dial: %w", plain))); c.Retryable() {
		t.Errorf("plaintext server: %+v, want terminal", c)
	}
}
