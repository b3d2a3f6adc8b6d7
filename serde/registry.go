package serde

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Registry is what serde needs of a Confluent-compatible Schema Registry.
// *RegistryClient implements it against the REST API (the tests add an
// in-process one). Implementations are safe for concurrent use.
type Registry interface {
	// Register registers schema (Avro JSON text) under subject and returns
	// its global id. Idempotent: the same schema under the same subject
	// always yields the same id.
	Register(ctx context.Context, subject, schema string) (id int, err error)
	// Schema returns the schema text of a global id.
	Schema(ctx context.Context, id int) (string, error)
}

// RegistryConfig locates and authenticates a Confluent-compatible Schema
// Registry API (Confluent Schema Registry, or Apicurio's /apis/ccompat/v7).
type RegistryConfig struct {
	// URL is the API's base, e.g. http://registry:8081 or
	// http://apicurio:8080/apis/ccompat/v7. Credentials in the URL
	// (https://user:pass@host) are moved to Username/Password.
	URL      string
	Username string
	Password string // never printed: String and errors redact it
	// TLS configures HTTPS (client certificates, private CAs); nil uses the
	// system roots.
	TLS *tls.Config
	// Timeout bounds each HTTP request. Zero means 10s.
	Timeout time.Duration
}

// String describes the configuration without its password.
func (c RegistryConfig) String() string {
	u := redactURL(c.URL)
	pw := ""
	if c.Password != "" {
		pw = " password=REDACTED"
	}
	return fmt.Sprintf("registry %s user=%q%s timeout=%s", u, c.Username, pw, c.Timeout)
}

// GoString keeps %#v from printing the password too.
func (c RegistryConfig) GoString() string { return c.String() }

// redactURL replaces a URL's whole userinfo for printing: a bare
// https://TOKEN@host carries its secret in the user name.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User("REDACTED")
	}
	return u.String()
}

// RegistryClient is a small client for the Confluent Schema Registry REST
// API: register a schema under a subject, fetch a schema by id, both cached
// for the life of the client (ids are immutable).
//
// Hand-written rather than riferrei/srclient because the wire contract
// needs things srclient does not give: a context on every call (shutdown
// must not wait on a hung registry), the HTTP status on errors (409
// incompatible is terminal, 5xx retryable), no goavro codec compiled per
// schema (serde has its own plan), and an extra GET after every register
// avoided.
type RegistryClient struct {
	base       string // without trailing slash and without userinfo
	user, pass string
	http       *http.Client

	mu      sync.RWMutex
	ids     map[subjectSchema]int // register cache
	schemas map[int]string        // Schema cache
}

// subjectSchema keys the register cache by a hash of the schema text: wide
// tables' schemas are tens of kB, and the cache lives as long as the daemon.
type subjectSchema struct {
	subject string
	schema  [sha256.Size]byte
}

// NewRegistryClient validates cfg and returns a client. It does no I/O.
func NewRegistryClient(cfg RegistryConfig) (*RegistryClient, error) {
	u, err := url.Parse(strings.TrimSpace(cfg.URL))
	if err != nil {
		return nil, fmt.Errorf("schema registry URL %s: %w", redactURL(cfg.URL), errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("schema registry URL %s: want http(s)://host[:port][/path]", u.Redacted())
	}
	user, pass := cfg.Username, cfg.Password
	if u.User != nil {
		if user == "" {
			user = u.User.Username()
		}
		if p, ok := u.User.Password(); ok && pass == "" {
			pass = p
		}
		u.User = nil
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.TLS != nil {
		transport.TLSClientConfig = cfg.TLS.Clone()
	}
	return &RegistryClient{
		base:    strings.TrimRight(u.String(), "/"),
		user:    user,
		pass:    pass,
		http:    &http.Client{Timeout: timeout, Transport: transport},
		ids:     make(map[subjectSchema]int),
		schemas: make(map[int]string),
	}, nil
}

// String describes the client without its password.
func (c *RegistryClient) String() string {
	if c.pass != "" {
		return fmt.Sprintf("RegistryClient(%s, user %q, password REDACTED)", c.base, c.user)
	}
	return fmt.Sprintf("RegistryClient(%s)", c.base)
}

// GoString keeps %#v from printing the password.
func (c *RegistryClient) GoString() string { return c.String() }

// Register implements Registry: POST /subjects/{subject}/versions.
func (c *RegistryClient) Register(ctx context.Context, subject, schema string) (int, error) {
	k := subjectSchema{subject, sha256.Sum256([]byte(schema))}
	c.mu.RLock()
	id, ok := c.ids[k]
	c.mu.RUnlock()
	if ok {
		return id, nil
	}
	body, err := json.Marshal(struct {
		Schema string `json:"schema"`
	}{schema})
	if err != nil {
		return 0, err
	}
	op := "register subject " + subject
	var resp struct {
		ID *int `json:"id"`
	}
	if err := c.do(ctx, op, http.MethodPost, "/subjects/"+url.PathEscape(subject)+"/versions", body, &resp); err != nil {
		return 0, err
	}
	if resp.ID == nil || *resp.ID <= 0 {
		return 0, fmt.Errorf("schema registry: %s: %w: answer has no valid id", op, ErrRegistryUnavailable)
	}
	c.mu.Lock()
	c.ids[k] = *resp.ID
	c.mu.Unlock()
	return *resp.ID, nil
}

// Schema implements Registry: GET /schemas/ids/{id}.
func (c *RegistryClient) Schema(ctx context.Context, id int) (string, error) {
	c.mu.RLock()
	s, ok := c.schemas[id]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	var resp struct {
		Schema     *string `json:"schema"`
		SchemaType string  `json:"schemaType"`
	}
	op := "get schema id " + strconv.Itoa(id)
	if err := c.do(ctx, op, http.MethodGet, "/schemas/ids/"+strconv.Itoa(id), nil, &resp); err != nil {
		return "", err
	}
	if resp.Schema == nil {
		return "", fmt.Errorf("schema registry: %s: %w: answer has no schema", op, ErrRegistryUnavailable)
	}
	if resp.SchemaType != "" && resp.SchemaType != "AVRO" {
		return "", fmt.Errorf("schema registry: %s: schema type %s, serde reads Avro only", op, resp.SchemaType)
	}
	c.mu.Lock()
	c.schemas[id] = *resp.Schema
	c.mu.Unlock()
	return *resp.Schema, nil
}

// maxRegistryAnswer bounds what we read of one answer: a schema of a very
// wide table is a few hundred kB.
const maxRegistryAnswer = 32 << 20

func (c *RegistryClient) do(ctx context.Context, op, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("schema registry: %s: %w", op, err)
	}
	req.Header.Set("Accept", "application/vnd.schemaregistry.v1+json, application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	}
	if c.user != "" || c.pass != "" {
		req.SetBasicAuth(c.user, c.pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("schema registry: %s: %w", op, ctx.Err())
		}
		return fmt.Errorf("schema registry: %s: %w: %w", op, ErrRegistryUnavailable, err) // *url.Error: no credentials in it
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRegistryAnswer))
	if err != nil {
		return fmt.Errorf("schema registry: %s: read answer: %w: %w", op, ErrRegistryUnavailable, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		re := &RegistryError{Op: op, StatusCode: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
		var e struct {
			ErrorCode int    `json:"error_code"`
			Message   string `json:"message"`
		}
		if json.Unmarshal(data, &e) == nil {
			re.ErrorCode = e.ErrorCode
			if e.Message != "" {
				re.Message = e.Message
			}
		}
		return re
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("schema registry: %s: decode answer: %w: %w", op, ErrRegistryUnavailable, err)
	}
	return nil
}
