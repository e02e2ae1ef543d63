package ilink

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// state is what survives a restart: the bot token of the last QR login, the getupdates
// cursor and the last context_token of every peer (a reply needs it).
type state struct {
	Token         string            `json:"token,omitempty"`
	BaseURL       string            `json:"base_url,omitempty"` // the login's baseurl, when iLink gave one
	BotID         string            `json:"bot_id,omitempty"`
	OwnerID       string            `json:"owner_id,omitempty"` // the ilink_user_id who scanned
	Cursor        string            `json:"get_updates_buf,omitempty"`
	ContextTokens map[string]string `json:"context_tokens,omitempty"`
}

// stateFile is the state's file in dir.
func stateFile(dir string) string { return filepath.Join(dir, "ilink-state.json") }

// loadState reads the state; a missing file is an empty state, a corrupt one an error
// (logging in afresh would silently lose the cursor and repeat what was delivered).
func loadState(dir string) (state, error) {
	var s state
	b, err := os.ReadFile(stateFile(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("ilink state: %w", err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("ilink state %s: %w", stateFile(dir), err)
	}
	return s, nil
}

// save writes the state atomically (a new file renamed over the old), so that a crash leaves
// the old state or the new one, never half of one.
func (s state) save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("ilink state: %w", err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("ilink state: %w", err)
	}
	f, err := os.CreateTemp(dir, ".ilink-state-*")
	if err != nil {
		return fmt.Errorf("ilink state: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), stateFile(dir))
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("ilink state: %w", err)
	}
	return nil
}
