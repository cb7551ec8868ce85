package server_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/tetherkit/tether/internal/testmsg"
	"github.com/tetherkit/tether/server"
	"github.com/tetherkit/tether/shared"
)

// TestProtocolConformance sends raw frames, some of them breaking RFC 6455,
// and checks the close code the server answers with: the cases of the
// Autobahn testsuite that apply to a server without extensions (section
// numbers in the names), plus Tether's read limit. Every row expects a close
// frame from the server. A row with wantReply expects, first, the pong to the
// ping envelope with that request id; the client then closes with 1000.
func TestProtocolConformance(t *testing.T) {
	// Autobahn 6.3.1: "κόσμε" followed by a UTF-16 surrogate (0xEDA080,
	// invalid in UTF-8) and "edited".
	validPart := []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")
	invalidPart := []byte("\xed\xa0\x80edited")
	invalidText := append(append([]byte{}, validPart...), invalidPart...)

	tests := []struct {
		name      string
		frames    []ws.Frame // written in order; masked unless unmasked is set
		unmasked  bool
		wantReply uint64 // request id of a pong expected; then the client closes
		wantClose int    // the code of the server's close frame
	}{
		// 3 Reserved bits: no extension was negotiated, so any is an error.
		{name: "3 RSV1 set", frames: []ws.Frame{rsv(ping(1), true, false, false)}, wantClose: 1002},
		{name: "3 RSV2 set", frames: []ws.Frame{rsv(ping(1), false, true, false)}, wantClose: 1002},
		{name: "3 RSV3 set", frames: []ws.Frame{rsv(ping(1), false, false, true)}, wantClose: 1002},
		// 4 Reserved opcodes.
		{name: "4.1.1 opcode 3", frames: []ws.Frame{ws.NewFrame(3, true, nil)}, wantClose: 1002},
		{name: "4.1.2 opcode 4", frames: []ws.Frame{ws.NewFrame(4, true, []byte("reserved"))}, wantClose: 1002},
		{name: "4.1.3 opcode 5", frames: []ws.Frame{ws.NewFrame(5, true, nil)}, wantClose: 1002},
		{name: "4.1.4 opcode 6", frames: []ws.Frame{ws.NewFrame(6, true, []byte("reserved"))}, wantClose: 1002},
		{name: "4.1.5 opcode 7", frames: []ws.Frame{ws.NewFrame(7, true, nil)}, wantClose: 1002},
		{name: "4.2.1 opcode 0xB", frames: []ws.Frame{ws.NewFrame(0xB, true, nil)}, wantClose: 1002},
		{name: "4.2.2 opcode 0xC", frames: []ws.Frame{ws.NewFrame(0xC, true, []byte("reserved"))}, wantClose: 1002},
		{name: "4.2.3 opcode 0xD", frames: []ws.Frame{ws.NewFrame(0xD, true, nil)}, wantClose: 1002},
		{name: "4.2.4 opcode 0xE", frames: []ws.Frame{ws.NewFrame(0xE, true, []byte("reserved"))}, wantClose: 1002},
		{name: "4.2.5 opcode 0xF", frames: []ws.Frame{ws.NewFrame(0xF, true, nil)}, wantClose: 1002},
		// 2.5 and 5.1: control frames are at most 125 bytes and never
		// fragmented.
		{name: "2.5 ping with 126-byte payload", frames: []ws.Frame{ws.NewPingFrame(bytes.Repeat([]byte("x"), 126))}, wantClose: 1002},
		{name: "5.1 fragmented ping", frames: []ws.Frame{ws.NewFrame(ws.OpPing, false, []byte("frag")), ws.NewFrame(ws.OpContinuation, true, []byte("ment"))}, wantClose: 1002},
		// 5.9: a continuation frame with no message to continue.
		{name: "5.9 continuation without start", frames: []ws.Frame{ws.NewFrame(ws.OpContinuation, true, []byte("orphan"))}, wantClose: 1002},
		// RFC 6455 §5.1: a client masks every frame.
		{name: "RFC 6455 5.1 unmasked client frame", frames: []ws.Frame{ping(1)}, unmasked: true, wantClose: 1002},
		// 6.3: text must be valid UTF-8, checked on the whole message.
		{name: "6.3.1 invalid UTF-8 text", frames: []ws.Frame{ws.NewTextFrame(invalidText)}, wantClose: 1007},
		{name: "6.3.2 invalid UTF-8 across fragments", frames: []ws.Frame{ws.NewFrame(ws.OpText, false, validPart), ws.NewFrame(ws.OpContinuation, true, invalidPart)}, wantClose: 1007},
		// 7.9 and 7.5: close codes that must not be sent, and close
		// reasons that are not UTF-8.
		{name: "7.9.2 close code 999", frames: []ws.Frame{closeFrame(999, "")}, wantClose: 1002},
		{name: "7.9.3 close code 1004 (reserved)", frames: []ws.Frame{closeFrame(1004, "")}, wantClose: 1002},
		{name: "7.9.4 close code 1005 (no status)", frames: []ws.Frame{closeFrame(1005, "")}, wantClose: 1002},
		{name: "7.9.5 close code 1006 (abnormal)", frames: []ws.Frame{closeFrame(1006, "")}, wantClose: 1002},
		{name: "7.9.6 close code 1016 (unassigned)", frames: []ws.Frame{closeFrame(1016, "")}, wantClose: 1002},
		{name: "7.9.9 close code 2999", frames: []ws.Frame{closeFrame(2999, "")}, wantClose: 1002},
		{name: "7.13.1 close code 5000", frames: []ws.Frame{closeFrame(5000, "")}, wantClose: 1002},
		{name: "7.5.1 close reason not UTF-8", frames: []ws.Frame{closeFrame(1000, string(invalidText))}, wantClose: 1002},
		// 7.7: a valid close is echoed with its code.
		{name: "7.7.1 close 1000 echoed", frames: []ws.Frame{closeFrame(1000, "bye")}, wantClose: 1000},
		{name: "7.7.2 close 1001 echoed", frames: []ws.Frame{closeFrame(1001, "")}, wantClose: 1001},
		{name: "7.7.10 close 3000 echoed", frames: []ws.Frame{closeFrame(3000, "")}, wantClose: 3000},
		{name: "7.7.13 close 4999 echoed", frames: []ws.Frame{closeFrame(4999, "")}, wantClose: 4999},
		// 7.3.1: an empty close is answered with an empty close (no
		// status, 1005). 7.3.2, a 1-byte close payload, is not in the table:
		// gorilla takes it for an empty close and echoes one, where the RFC
		// wants 1002, and gorilla's reader gives the server no way to tell.
		{name: "7.3.1 empty close echoed", frames: []ws.Frame{ws.NewCloseFrame(nil)}, wantClose: 1005},
		// Tether's read limit (docs/protocol.md §9): 64 KiB passes, one
		// byte more closes with 1009.
		{name: "read limit: 64 KiB text answered", frames: []ws.Frame{ws.NewTextFrame(paddedPing(7, server.DefaultReadLimit))}, wantReply: 7, wantClose: 1000},
		{name: "read limit: 64 KiB + 1 text", frames: []ws.Frame{ws.NewTextFrame(paddedPing(8, server.DefaultReadLimit+1))}, wantClose: 1009},
		{name: "read limit: 64 KiB + 1 in fragments", frames: []ws.Frame{ws.NewFrame(ws.OpText, false, paddedPing(9, server.DefaultReadLimit)), ws.NewFrame(ws.OpContinuation, true, []byte(" "))}, wantClose: 1009},
	}
	e := startServer(t, server.Config{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := dialFrames(t, e)
			for _, f := range tt.frames {
				rc.write(f, !tt.unmasked)
			}
			if tt.wantReply != 0 {
				rc.readReply(tt.wantReply)
				rc.write(closeFrame(1000, ""), true)
			}
			got := rc.readClose()
			if got != tt.wantClose {
				t.Errorf("server closed with %d, want %d", got, tt.wantClose)
			}
			// What the server recorded (OnDisconnect, the Observer) is the
			// code on the wire. An empty close is "no status", 1005.
			if d := e.waitDisconnect(rc.conn); d.code != tt.wantClose {
				t.Errorf("OnDisconnect got code %d, want %d", d.code, tt.wantClose)
			}
		})
	}
}

// frameConn is a raw WebSocket client connection: a gobwas/ws handshake,
// then frames written and read by hand.
type frameConn struct {
	t    *testing.T
	nc   net.Conn
	r    io.Reader // what the server sent: the handshake's buffer, then nc
	conn string    // the connection id from welcome
}

// dialFrames connects as user x and reads welcome.
func dialFrames(t *testing.T, e *testEnv) *frameConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTime)
	defer cancel()
	nc, br, _, err := ws.Dialer{}.Dial(ctx, e.wsURL("x"))
	if err != nil {
		t.Fatalf("raw dial: %v", err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	fc := &frameConn{t: t, nc: nc, r: nc}
	if br != nil {
		fc.r = io.MultiReader(br, nc)
	}
	_ = nc.SetDeadline(time.Now().Add(waitTime))
	f, err := ws.ReadFrame(fc.r)
	if err != nil || f.Header.OpCode != ws.OpText {
		t.Fatalf("first frame: %v %+v, want welcome", err, f.Header)
	}
	env, err := shared.DecodeEnvelope(f.Payload)
	if err != nil {
		t.Fatalf("welcome: %v", err)
	}
	m, err := testmsg.NewRegistry().Decode(env)
	w, ok := m.(shared.Welcome)
	if err != nil || !ok {
		t.Fatalf("first message %s (%v), want welcome", env.Type, err)
	}
	fc.conn = w.Conn
	return fc
}

// write writes f, masked with a random key when mask is set.
func (fc *frameConn) write(f ws.Frame, mask bool) {
	fc.t.Helper()
	p := append([]byte(nil), f.Payload...) // masking works in place
	f.Payload = p
	if mask {
		f = ws.MaskFrameInPlace(f)
	}
	if err := ws.WriteFrame(fc.nc, f); err != nil {
		// The server may have closed already (it fails fast); what it
		// answered is checked by readClose.
		fc.t.Logf("write %v frame: %v", f.Header.OpCode, err)
	}
}

// readReply reads until the pong to request id.
func (fc *frameConn) readReply(id uint64) {
	fc.t.Helper()
	_ = fc.nc.SetDeadline(time.Now().Add(waitTime))
	for {
		f, err := ws.ReadFrame(fc.r)
		if err != nil {
			fc.t.Fatalf("no pong for request %d, the message was not answered: %v", id, err)
		}
		switch f.Header.OpCode {
		case ws.OpText:
			env, err := shared.DecodeEnvelope(f.Payload)
			if err == nil && env.Type == shared.TypeOf[shared.Pong]() && env.ID == id {
				return
			}
		case ws.OpClose:
			c, _ := ws.ParseCloseFrameData(f.Payload)
			fc.t.Fatalf("closed with %d instead of answering request %d", c, id)
		}
	}
}

// readClose reads until the server's close frame and returns its code
// (1005 for an empty one). It answers the close and checks that the server
// then closes the TCP connection.
func (fc *frameConn) readClose() int {
	fc.t.Helper()
	_ = fc.nc.SetDeadline(time.Now().Add(waitTime))
	for {
		f, err := ws.ReadFrame(fc.r)
		if err != nil {
			fc.t.Fatalf("connection dropped without a close frame: %v", err)
		}
		if f.Header.OpCode != ws.OpClose {
			continue
		}
		c, _ := ws.ParseCloseFrameData(f.Payload)
		code := int(c)
		if c.Empty() {
			code = 1005
		}
		ack := ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))
		_ = ws.WriteFrame(fc.nc, ack) // the server may be gone already
		fc.expectEOF()
		return code
	}
}

// expectEOF checks that the server closes the TCP connection after its
// close frame, without sending anything more.
func (fc *frameConn) expectEOF() {
	fc.t.Helper()
	n, err := io.Copy(io.Discard, fc.r)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		fc.t.Errorf("server kept the TCP connection open %v after its close frame", waitTime)
	case n > 0:
		fc.t.Errorf("server sent %d bytes after its close frame", n)
	}
}

// ping is a text frame holding a ping envelope with request id.
func ping(id uint64) ws.Frame {
	b, err := shared.Encode(shared.Envelope{ID: id}, shared.Ping{})
	if err != nil {
		panic(err)
	}
	return ws.NewTextFrame(b)
}

// paddedPing is a ping envelope with request id, padded with JSON
// whitespace to exactly size bytes.
func paddedPing(id uint64, size int) []byte {
	b := ping(id).Payload
	return append(b[:len(b)-1:len(b)-1], strings.Repeat(" ", size-len(b))+"}"...)
}

// rsv returns f with the reserved bits set.
func rsv(f ws.Frame, r1, r2, r3 bool) ws.Frame {
	f.Header.Rsv = ws.Rsv(r1, r2, r3)
	return f
}

// closeFrame is a close frame with code and reason (not validated).
func closeFrame(code int, reason string) ws.Frame {
	p := make([]byte, 2+len(reason))
	ws.PutCloseFrameBody(p, ws.StatusCode(code), reason)
	return ws.NewCloseFrame(p)
}
