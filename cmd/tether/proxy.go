package main

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// trustedProxies resolves a connection's client address behind reverse
// proxies: when the TCP peer is one of the trusted networks, the client is
// the right-most X-Forwarded-For entry that is not itself trusted (entries
// left of it could have been written by the client, so they are ignored).
type trustedProxies []netip.Prefix

// parseTrustedProxies reads a comma-separated list of CIDRs or addresses.
func parseTrustedProxies(list []string) (trustedProxies, error) {
	var out trustedProxies
	for _, s := range list {
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("%q is neither an address nor a CIDR", s)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR: %w", s, err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (t trustedProxies) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// trustsHost is server.Config.TrustedPeer: whether the TCP peer ip is a
// trusted proxy, exempt from the per-address HTTP connection cap.
func (t trustedProxies) trustsHost(ip string) bool {
	a, err := netip.ParseAddr(ip)
	return err == nil && t.trusts(a)
}

// clientIP is server.Config.ClientIP: the address the per-IP limit counts.
func (t trustedProxies) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !t.trusts(peer) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // garbage: trust nothing further left
		}
		if !t.trusts(a) {
			return a.Unmap().String()
		}
	}
	return host // only proxies in the chain: count the nearest one
}
