package ui

import (
	"context"
	"net/url"
)

// Every tab of the app in a browser shares the login cookie and the stored
// nickname, so a sign-out or a sign-in in one tab must reach the others: a
// tab still connected after its user signed out elsewhere would go on
// chatting as them. Tabs tell each other over a BroadcastChannel
// (tabs_js.go); outside the browser nothing is sent.

// tabEvent is what one tab tells the others.
type tabEvent struct {
	// Kind is tabSignedIn or tabSignedOut.
	Kind string `json:"kind"`
	// Nick is the nickname signed in with.
	Nick string `json:"nick,omitempty"`
	// User is the user id signed in or out.
	User string `json:"user,omitempty"`
}

// Kinds of tabEvent.
const (
	tabSignedIn  = "signed-in"
	tabSignedOut = "signed-out"
)

// onTab applies what another tab did: a sign-out ends this tab's session
// too, and a sign-in makes this tab take up the new login (the shared
// cookie) unless it is already signed in as that user. It runs on the
// browser's event loop and must not block.
func (s *Session) onTab(e tabEvent, page *url.URL) {
	st := s.Status()
	switch e.Kind {
	case tabSignedOut:
		if st.LoggedIn || st.SigningIn {
			s.dropOutbox()
			go s.Logout()
		}
	case tabSignedIn:
		nick := cleanNick(e.Nick)
		if nick == "" || st.LoggedIn && (st.User == e.User || e.User == "" && st.Nick == nick) {
			return
		}
		go s.SignIn(context.Background(), nick, page, true)
	}
}

// linkTabs starts listening to the app's other tabs in this browser, once
// per tab (the Shell calls it when it mounts), so that a sign-in or a
// sign-out in one reaches all (tabs.go).
func (s *Session) linkTabs() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tabs == nil {
		s.tabs = openTabs(s.onTab)
	}
}

// tellTabs tells the app's other tabs in this browser about e.
func (s *Session) tellTabs(e tabEvent) {
	s.mu.Lock()
	tabs := s.tabs
	s.mu.Unlock()
	tabs.tell(e)
}
