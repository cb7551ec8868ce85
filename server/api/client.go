package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tetherkit/tether/shared"
)

// Client calls a Tether server's HTTP API from a Go backend.
type Client struct {
	// BaseURL is the server's address, e.g. "http://127.0.0.1:8080".
	BaseURL string
	// Key is the API key; empty when the server's API is open.
	Key string
	// HTTP is the client used. Nil means http.DefaultClient.
	HTTP *http.Client
}

// APIError is a non-2xx answer of the API.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Body is the decoded error.
	Body shared.Error
}

// Error implements error.
func (e *APIError) Error() string {
	return fmt.Sprintf("tether api: %d %s", e.Status, e.Body.Error())
}

// Push sends m to target and returns how many connections it reached.
func (c *Client) Push(ctx context.Context, target Target, m shared.Message) (PushResponse, error) {
	data, err := json.Marshal(m)
	if err != nil {
		return PushResponse{}, fmt.Errorf("push %s: %w", m.MessageType(), err)
	}
	var resp PushResponse
	err = c.do(ctx, http.MethodPost, "/api/push", PushRequest{Target: target, Type: m.MessageType(), Data: data}, &resp)
	return resp, err
}

// PushEphemeral sends m to the members of room now, without a seq and
// without keeping it in the room's history (POST /api/push with
// "ephemeral": true).
func (c *Client) PushEphemeral(ctx context.Context, room string, m shared.Message) error {
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("push %s: %w", m.MessageType(), err)
	}
	var resp PushResponse
	return c.do(ctx, http.MethodPost, "/api/push",
		PushRequest{Target: Target{Kind: TargetRoom, ID: room}, Type: m.MessageType(), Data: data, Ephemeral: true}, &resp)
}

// PushRaw sends an already encoded message of the named type, e.g. from a
// command line.
func (c *Client) PushRaw(ctx context.Context, target Target, typ string, data json.RawMessage) (PushResponse, error) {
	var resp PushResponse
	err := c.do(ctx, http.MethodPost, "/api/push", PushRequest{Target: target, Type: typ, Data: data}, &resp)
	return resp, err
}

// Kick disconnects every connection of req.User, on every node, with
// req.Reason, and with req.Ban also bans the user (POST /api/kick):
// KickRequest{User: "mallory-x1y2z3", Reason: "spam", Ban: "10m"}.
func (c *Client) Kick(ctx context.Context, req KickRequest) (KickResponse, error) {
	var resp KickResponse
	err := c.do(ctx, http.MethodPost, "/api/kick", req, &resp)
	return resp, err
}

// Presence returns the members of room.
func (c *Client) Presence(ctx context.Context, room string) ([]shared.Member, error) {
	var resp PresenceResponse
	err := c.do(ctx, http.MethodGet, "/api/presence?room="+url.QueryEscape(room), nil, &resp)
	return resp.Members, err
}

// Connections returns one page of connections.
func (c *Client) Connections(ctx context.Context, offset, limit int) (ConnectionsResponse, error) {
	var resp ConnectionsResponse
	err := c.do(ctx, http.MethodGet, "/api/connections?offset="+strconv.Itoa(offset)+"&limit="+strconv.Itoa(limit), nil, &resp)
	return resp, err
}

// Stats returns the server's counters as JSON fields.
func (c *Client) Stats(ctx context.Context) (map[string]any, error) {
	var resp map[string]any
	err := c.do(ctx, http.MethodGet, "/api/stats", nil, &resp)
	return resp, err
}

func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.Key)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading response: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		var eb ErrorBody
		if json.Unmarshal(raw, &eb) != nil || eb.Error.Code == "" {
			eb.Error = shared.Error{Code: "http_" + strconv.Itoa(res.StatusCode), Message: strings.TrimSpace(string(raw))}
		}
		return &APIError{Status: res.StatusCode, Body: eb.Error}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decoding response: %w", method, path, err)
	}
	return nil
}
