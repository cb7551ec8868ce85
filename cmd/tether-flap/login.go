package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/tetherkit/tether/client"
)

// transportFor is the client transport that authenticates as a user of
// its own: with token when set, else with a token from the server's guest
// login (POST /auth/guest, cmd/tether's default), else none (a server
// without token authentication takes ?user= instead).
func transportFor(ctx context.Context, base *url.URL, token, name string) (client.Transport, error) {
	if token == "" {
		var err error
		if token, err = guestToken(ctx, base, name); err != nil {
			return nil, err
		}
	}
	if token == "" {
		return client.NativeTransport{}, nil
	}
	return client.NativeTransport{HeaderFunc: func(context.Context) (http.Header, error) {
		return http.Header{"Authorization": {"Bearer " + token}}, nil
	}}, nil
}

// guestToken asks the server at base (its ws:// URL) for a guest token;
// "" when it has no guest login (404, 401).
func guestToken(ctx context.Context, base *url.URL, name string) (string, error) {
	u := url.URL{Scheme: "http", Host: base.Host, Path: "/auth/guest"}
	if base.Scheme == "wss" {
		u.Scheme = "https"
	}
	body, _ := json.Marshal(map[string]string{"name": name})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("guest login: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode == http.StatusNotFound, resp.StatusCode == http.StatusUnauthorized:
		// No guest login here (a server that takes ?user=, as in tests):
		// the handshake says what it wants.
		return "", nil
	case resp.StatusCode != http.StatusOK:
		return "", fmt.Errorf("guest login: %s: %s (give -token)", resp.Status, bytes.TrimSpace(b))
	}
	var res struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &res); err != nil || res.Token == "" {
		return "", fmt.Errorf("guest login: unexpected answer %q", b)
	}
	return res.Token, nil
}
