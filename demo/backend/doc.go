// Package backend is the server side of Tether's demo app: chat and danmaku
// (bullet comments) handlers, and a simulated stock ticker feed published to
// the room "ticker".
package backend
