package client

import (
	"encoding/json"
	"strconv"
	"time"
)

// refusal is the *HandshakeError of a handshake answered with status, the
// JSON error body body and the Retry-After header retryAfter, or nil when
// status is not one the server refuses a handshake with (docs/protocol.md
// §1: 401, 403, 429, 503).
func refusal(status int, body []byte, retryAfter string) *HandshakeError {
	switch status {
	case 401, 403, 429, 503:
		return refused(status, body, retryAfter)
	}
	return nil
}

// refused is the *HandshakeError of a handshake answered with status, the
// body body and the Retry-After header retryAfter.
func refused(status int, body []byte, retryAfter string) *HandshakeError {
	he := &HandshakeError{Status: status}
	var b struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &b) == nil {
		he.Code, he.Message = b.Code, b.Message
	}
	if s, err := strconv.Atoi(retryAfter); err == nil && s > 0 {
		he.RetryAfter = time.Duration(s) * time.Second
	}
	return he
}
