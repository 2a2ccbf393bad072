package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"
)

// Client talks to a daemon's control socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client of the socket at path.
func NewClient(path string) *Client {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
		MaxIdleConns:    1,
		IdleConnTimeout: 10 * time.Second,
	}
	return &Client{socket: path, http: &http.Client{Transport: tr}}
}

// Socket is the socket's path.
func (c *Client) Socket() string { return c.socket }

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Reach says why the daemon could not be reached.
type Reach int

const (
	// NotRunning: no socket at the path, or nothing answers on it.
	NotRunning Reach = iota + 1
	// Denied: the socket's permissions do not let this user in.
	Denied
	// Unreachable: anything else (a timeout, a socket of something else).
	Unreachable
)

// DialError is an error reaching the daemon, with a message that names
// the socket and says what to do.
type DialError struct {
	Socket string
	Reach  Reach
	Err    error
}

func (e *DialError) Error() string {
	switch e.Reach {
	case NotRunning:
		if errors.Is(e.Err, syscall.ECONNREFUSED) {
			return fmt.Sprintf("lvsd is not running: nothing answers on %s (a stale socket left by a stopped daemon?); start it (systemctl start lvsd) or give --socket", e.Socket)
		}
		return fmt.Sprintf("lvsd is not running: no control socket at %s; start it (systemctl start lvsd), or give --socket if control.socket sets another path", e.Socket)
	case Denied:
		return fmt.Sprintf("permission denied on the control socket %s%s: run as root (sudo), or give your group access with control.mode (e.g. \"0660\")", e.Socket, describe(e.Socket))
	}
	return fmt.Sprintf("cannot reach lvsd on %s: %v", e.Socket, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }

// describe says who owns a path and with which mode: " (mode 0600, owner
// root:root)".
func describe(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		// The directory may be what is closed to us.
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Sprintf(" (mode %04o)", fi.Mode().Perm())
	}
	owner, group := strconv.Itoa(int(st.Uid)), strconv.Itoa(int(st.Gid))
	if u, err := user.LookupId(owner); err == nil {
		owner = u.Username
	}
	if g, err := user.LookupGroupId(group); err == nil {
		group = g.Name
	}
	return fmt.Sprintf(" (mode %04o, owner %s:%s)", fi.Mode().Perm(), owner, group)
}

// classify turns a transport error into a *DialError when it is one.
func (c *Client) classify(err error) error {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return err
	}
	de := &DialError{Socket: c.socket, Reach: Unreachable, Err: op.Err}
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ECONNREFUSED):
		de.Reach = NotRunning
	case errors.Is(err, fs.ErrPermission):
		de.Reach = Denied
	}
	return de
}

// APIError is an error answer of the API.
type APIError struct {
	// Status is the HTTP status (404 no such object, 409 ambiguous, 501
	// not available, 403 a write over TCP...).
	Status     int
	Message    string
	Candidates []string
}

func (e *APIError) Error() string { return e.Message }

// ReloadError is a refused reload, with its diagnostics.
type ReloadError struct {
	Response ReloadResponse
}

func (e *ReloadError) Error() string { return e.Response.Error }

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://lvsd"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.classify(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("read the answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		if path == "/v1/reload" {
			var rr ReloadResponse
			if json.Unmarshal(b, &rr) == nil && rr.Error != "" {
				return &ReloadError{Response: rr}
			}
		}
		var e Error
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("%s %s: %s", method, path, resp.Status)
		}
		return &APIError{Status: resp.StatusCode, Message: e.Error, Candidates: e.Candidates}
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = b
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("decode the answer of %s %s: %w", method, path, err)
	}
	return nil
}

// Get reads a GET endpoint into out (a *json.RawMessage keeps it as is).
func (c *Client) Get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, nil, out)
}

// Status reads GET /v1/status.
func (c *Client) Status(ctx context.Context) (Status, error) {
	var s Status
	err := c.Get(ctx, "/v1/status", &s)
	return s, err
}

// Override sets (or with "enable" clears) an override.
func (c *Client) Override(ctx context.Context, req OverrideRequest) (OverrideResponse, error) {
	var out OverrideResponse
	err := c.do(ctx, http.MethodPost, "/v1/override", req, &out)
	return out, err
}

// Reload reloads the configuration. A refused one is a *ReloadError.
func (c *Client) Reload(ctx context.Context) (ReloadResponse, error) {
	var out ReloadResponse
	err := c.do(ctx, http.MethodPost, "/v1/reload", struct{}{}, &out)
	return out, err
}

// Failover steps VRRP instances down.
func (c *Client) Failover(ctx context.Context, req FailoverRequest) (FailoverResponse, error) {
	var out FailoverResponse
	err := c.do(ctx, http.MethodPost, "/v1/failover", req, &out)
	return out, err
}
