package natsbroker

// WithDropLive sets the test hook that drops a republished message when
// drop returns true.
func WithDropLive(cfg Config, drop func() bool) Config {
	cfg.dropLive = drop
	return cfg
}
