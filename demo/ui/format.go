package ui

import (
	"context"
	"errors"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/maxence-charriere/go-app/v10/pkg/app"

	"github.com/tetherkit/tether/client"
	"github.com/tetherkit/tether/shared"
)

// initial is the avatar letter of a name.
func initial(name string) string {
	r, _ := utf8.DecodeRuneInString(strings.TrimSpace(name))
	if r == utf8.RuneError {
		return "?"
	}
	return string(unicode.ToUpper(r))
}

// hueBuckets is how many hues avatars are drawn in: web/app.css has a
// class hue-0 … hue-23 for each (15° apart).
const hueBuckets = 24

// hueClass is a stable colour class for a user id (or a ticker symbol).
// A class, not a style attribute: the page's Content-Security-Policy
// allows no inline style.
func hueClass(user string) string {
	h := fnv.New32a()
	h.Write([]byte(user))
	return "hue-" + strconv.Itoa(int(h.Sum32()%360)*hueBuckets/360)
}

// plural says "1 member", "2 members".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// clock formats a Unix-ms time as hh:mm in zone.
func clock(ms int64, zone *time.Location) string {
	if ms <= 0 {
		return ""
	}
	return time.UnixMilli(ms).In(zone).Format("15:04")
}

// localZone is the browser's time zone offset (Go's js/wasm port has no
// zone database). Outside the browser it is UTC.
func localZone() *time.Location {
	if !app.IsClient {
		return time.UTC
	}
	offset := app.Window().Get("Date").New().Call("getTimezoneOffset").Int() // minutes behind UTC
	return time.FixedZone("local", -offset*60)
}

// price formats a price with two decimals.
func price(p float64) string {
	return strconv.FormatFloat(p, 'f', 2, 64)
}

// percent formats a change with its sign and two decimals: "+1.25%".
func percent(c float64) string {
	c = math.Round(c*100) / 100
	s := strconv.FormatFloat(math.Abs(c), 'f', 2, 64) + "%"
	switch {
	case c > 0:
		return "+" + s
	case c < 0:
		return "−" + s
	}
	return s
}

// sparkline is an inline SVG polyline of values, w×h pixels.
func sparkline(values []float64, w, h int, up bool) string {
	if len(values) < 2 {
		return `<svg class="spark" width="` + strconv.Itoa(w) + `" height="` + strconv.Itoa(h) + `" aria-hidden="true"></svg>`
	}
	lo, hi := values[0], values[0]
	for _, v := range values {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	span := hi - lo
	if span == 0 {
		span = 1
	}
	var pts strings.Builder
	step := float64(w-2) / float64(len(values)-1)
	for i, v := range values {
		x := 1 + float64(i)*step
		y := 1 + (1-(v-lo)/span)*float64(h-2)
		if i > 0 {
			pts.WriteByte(' ')
		}
		pts.WriteString(strconv.FormatFloat(x, 'f', 1, 64))
		pts.WriteByte(',')
		pts.WriteString(strconv.FormatFloat(y, 'f', 1, 64))
	}
	class := "spark spark-down"
	if up {
		class = "spark spark-up"
	}
	return `<svg class="` + class + `" width="` + strconv.Itoa(w) + `" height="` + strconv.Itoa(h) +
		`" viewBox="0 0 ` + strconv.Itoa(w) + ` ` + strconv.Itoa(h) + `" aria-hidden="true"><polyline fill="none" stroke-width="1.5" points="` +
		pts.String() + `"/></svg>`
}

// errorText turns a client error into a sentence for the user.
func errorText(err error) string {
	var se *shared.Error
	if errors.As(err, &se) {
		switch se.Code {
		case shared.CodeTimeout:
			return "No answer from the server in time."
		case shared.CodeClosed:
			return "The connection closed before the server answered."
		}
		if se.Message != "" {
			return se.Message
		}
		return se.Code
	}
	if errors.Is(err, client.ErrNotConnected) {
		return "Not connected; wait for the connection to come back."
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "No answer from the server in time."
	}
	return err.Error()
}
