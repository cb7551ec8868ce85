package natsbroker

// WithDropLive sets the test hook that drops a republished message when
// drop returns true.
func WithDropLive(cfg Config, drop func() bool) Config {
	cfg.dropLive = drop
	return cfg
}

// RoomSubject is the stream subject of room's messages.
func RoomSubject(room string) string { return roomPrefix + token(room) }
