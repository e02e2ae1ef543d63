// Package logging builds the slog logger every openqq binary logs with.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"unicode/utf8"
)

// Config is read from LOG_LEVEL (debug, info, warn, error) and LOG_FORMAT (text, json).
type Config struct {
	Level  string `envconfig:"LOG_LEVEL" default:"info"`
	Format string `envconfig:"LOG_FORMAT" default:"text"`
}

// New returns a logger writing to w.
func New(cfg Config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		return nil, fmt.Errorf("LOG_LEVEL %q: want debug, info, warn or error", cfg.Level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(cfg.Format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("LOG_FORMAT %q: want text or json", cfg.Format)
	}
}

// MaxValue is how much of a value from outside (a Location, a peer's reason) a log line
// carries: a hostile peer must not write megabyte lines.
const MaxValue = 200

// Clip cuts s to at most n bytes of valid UTF-8 (on a rune boundary, invalid bytes dropped),
// marking a cut with "…".
func Clip(s string, n int) string {
	if len(s) <= n {
		return strings.ToValidUTF8(s, "")
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
