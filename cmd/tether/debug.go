package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// checkDebugAddr accepts a -debug-addr only on a loopback address
// (127.0.0.1:6060, [::1]:6060, localhost:6060): the profiles show the
// server's internals and cost CPU to take, so they are never served to the
// network.
func checkDebugAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-debug-addr %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-debug-addr %q: pprof is served on a loopback address only (e.g. 127.0.0.1:6060); reach it from elsewhere through an SSH tunnel", addr)
	}
	return nil
}

// listenDebug opens the debug listener on addr, a loopback address, and
// checks that what it bound is loopback too (localhost could resolve
// elsewhere).
func listenDebug(addr string) (net.Listener, error) {
	if err := checkDebugAddr(addr); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listen: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		_ = ln.Close()
		return nil, errors.New("-debug-addr: bound a non-loopback address " + ln.Addr().String() + "; use 127.0.0.1 or [::1]")
	}
	return ln, nil
}

// debugServer serves net/http/pprof under /debug/pprof/, on a mux of its
// own: the public mux never has these routes.
func debugServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// No write timeout: a CPU profile or trace streams for its ?seconds=.
	return &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}
