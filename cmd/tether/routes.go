package main

import (
	"net/http"

	"github.com/tetherkit/tether/server"
)

// routes mounts everything served besides /ws and /healthz.
//
// TODO(lead): mount the web app (o.webDir, TETHER_WEB_DIR) and the HTTP API
// here, e.g. mux.Handle("/", webapp.Handler(...)) and
// mux.Handle("/api/", api.Handler(srv)).
func routes(mux *http.ServeMux, srv *server.Server, o options) {
	_, _, _ = mux, srv, o
}
