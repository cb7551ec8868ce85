package main

import (
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: each power of two is split into
// 2^(subBits-1) buckets, so a percentile is off by at most 1/32 (3%).
const subBits = 6

// histBuckets covers durations up to 2^40 µs (about 12 days).
const histBuckets = 1<<subBits + (40-subBits+1)<<(subBits-1)

// histogram counts durations at microsecond resolution in log-linear
// buckets: exact below 64 µs, within 3% above. It takes a few KiB however
// many samples it holds. The zero value is empty and ready to use.
type histogram struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
}

// bucketOf returns the bucket of v microseconds.
func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	shift := bits.Len64(v) - subBits // ≥ 1: bits dropped below the top subBits
	top := v >> shift                // in [2^(subBits-1), 2^subBits)
	b := 1<<subBits + (shift-1)<<(subBits-1) + int(top-1<<(subBits-1))
	return min(b, histBuckets-1)
}

// bucketValue returns the middle of bucket b, in microseconds.
func bucketValue(b int) uint64 {
	if b < 1<<subBits {
		return uint64(b)
	}
	b -= 1 << subBits
	shift := b>>(subBits-1) + 1
	top := uint64(b&(1<<(subBits-1)-1)) + 1<<(subBits-1)
	return top<<shift + 1<<shift/2
}

// record counts d; negative durations (clock steps) count as 0.
func (h *histogram) record(d time.Duration) {
	d = max(d, 0)
	h.counts[bucketOf(uint64(d/time.Microsecond))]++
	h.n++
	h.max = max(h.max, d)
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// percentile returns the p-th percentile (0 < p ≤ 100); 0 when empty. It
// never exceeds the largest duration recorded.
func (h *histogram) percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(float64(h.n)*p/100 + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(bucketValue(b))*time.Microsecond, h.max)
		}
	}
	return h.max
}
