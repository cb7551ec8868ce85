package webapp

import (
	"strconv"
	"strings"
	"time"
)

// zeroTime makes http.ServeContent skip Last-Modified: the ETag alone
// validates the bundle.
var zeroTime time.Time

// negotiate picks the content coding for an Accept-Encoding header value
// (RFC 9110 §12.5.3) among available, which is in order of preference and
// includes "identity". The coding with the highest q-value wins; ties go to
// the earlier one in available. q=0 means "not acceptable"; "*" matches every
// coding not named; identity is acceptable unless excluded by
// "identity;q=0" or "*;q=0". When nothing is acceptable the answer is
// identity anyway, which RFC 9110 allows, rather than a 406 that would break
// the app.
func negotiate(header string, available []string) string {
	q := make(map[string]float64)
	star := -1.0
	for _, part := range strings.Split(header, ",") {
		coding, weight, ok := parseCoding(part)
		if !ok {
			continue
		}
		if coding == "*" {
			star = weight
			continue
		}
		q[coding] = weight
	}
	weight := func(coding string) float64 {
		if w, ok := q[coding]; ok {
			return w
		}
		if star >= 0 {
			return star
		}
		if coding == "identity" {
			return 0.001 // acceptable, but any named coding is preferred
		}
		return 0
	}
	best, bestQ := "identity", 0.0
	for _, c := range available {
		if w := weight(c); w > bestQ {
			best, bestQ = c, w
		}
	}
	return best
}

// parseCoding parses one element of Accept-Encoding: `gzip;q=0.5`.
func parseCoding(s string) (coding string, q float64, ok bool) {
	name, params, _ := strings.Cut(s, ";")
	coding = strings.ToLower(strings.TrimSpace(name))
	if coding == "" {
		return "", 0, false
	}
	if coding == "x-gzip" {
		coding = "gzip"
	}
	q = 1
	for _, p := range strings.Split(params, ";") {
		k, v, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f < 0 || f > 1 {
			return "", 0, false
		}
		q = f
	}
	return coding, q, true
}
