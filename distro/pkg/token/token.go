// Package token parses, creates and stores K3s-style join tokens.
//
// A secure token is "K10<ca-hash>::<user>:<password>": the SHA-256 of the
// server's CA certificate (so a joining node can pin the CA before it trusts
// anything) followed by credentials. A bare token is the password alone.
//
// Errors never contain the token or any part of the secret.
package token

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

const (
	// Prefix starts every secure token (K3s's format version 1.0).
	Prefix = "K10"
	// ServerUser and NodeUser are the usernames of the server and node tokens.
	ServerUser = "server"
	NodeUser   = "node"
	// ServerFile and NodeFile are the file names under the server directory.
	ServerFile = "token"
	NodeFile   = "node-token"

	hashLen     = 64 // hex SHA-256
	secretBytes = 32
)

// Token is a parsed join token. CAHash is empty for a bare token.
type Token struct {
	CAHash, Username, Password string
}

// Parse parses a secure token ("K10<64 hex>::<user>:<password>") or a bare
// secret (returned as Password with empty CAHash and Username). Surrounding
// whitespace is trimmed; whitespace inside is an error. The CA hash is
// returned in lowercase.
func Parse(s string) (Token, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Token{}, errors.New("token is empty")
	}
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return Token{}, errors.New("token contains whitespace (check the --token value or token file)")
	}
	if !strings.HasPrefix(s, Prefix) {
		if strings.Contains(s, "::") {
			return Token{}, fmt.Errorf("token contains \"::\" but does not start with %s: want %s<ca-hash>::<user>:<password> or a bare secret", Prefix, Prefix)
		}
		return Token{Password: s}, nil
	}

	hash, creds, ok := strings.Cut(s[len(Prefix):], "::")
	if !ok {
		return Token{}, fmt.Errorf("token starts with %s but has no \"::\" after the CA hash: want %s<ca-hash>::<user>:<password>", Prefix, Prefix)
	}
	if err := ValidateCAHash(hash); err != nil {
		return Token{}, fmt.Errorf("token: %w", err)
	}
	user, pass, ok := strings.Cut(creds, ":")
	switch {
	case !ok || user == "":
		return Token{}, fmt.Errorf("token has no <user>:<password> after \"::\": want %s<ca-hash>::<user>:<password>", Prefix)
	case pass == "":
		return Token{}, fmt.Errorf("token for user %q has an empty password", user)
	}
	return Token{CAHash: strings.ToLower(hash), Username: user, Password: pass}, nil
}

// ValidateCAHash checks that h is a hex SHA-256 (64 hex digits). The error
// names the length only, never the value.
func ValidateCAHash(h string) error {
	if len(h) != hashLen {
		return fmt.Errorf("CA hash has %d characters, want %d hex digits (SHA-256 of the server CA certificate)", len(h), hashLen)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return errors.New("CA hash contains non-hex characters, want 64 hex digits (SHA-256 of the server CA certificate)")
	}
	return nil
}

// String returns the secure form when CAHash is set (username "server" when
// none is set), else the bare password. It returns the secret: never log it,
// use Redacted.
func (t Token) String() string {
	if t.CAHash == "" {
		return t.Password
	}
	user := t.Username
	if user == "" {
		user = ServerUser
	}
	return Prefix + t.CAHash + "::" + user + ":" + t.Password
}

// Redacted returns the token with the password replaced by REDACTED, fit
// for logs.
func (t Token) Redacted() string {
	if t.CAHash == "" {
		return "REDACTED"
	}
	return Token{CAHash: t.CAHash, Username: t.Username, Password: "REDACTED"}.String()
}

// Ensure returns the server and node tokens of the server whose state lives
// in serverDir and whose CA certificate hashes to caHash, and stores them in
// <serverDir>/token and <serverDir>/node-token (mode 0600).
//
// The shared secret is, in order: the password of given (--token or
// --token-file; a CA hash it carries must equal caHash), the secret stored
// by an earlier start, or a new random 32-byte hex secret. The server token
// is K10<caHash>::server:<secret> and the node token
// K10<caHash>::node:<secret>; like K3s without --agent-token, both share
// the secret.
//
// When given differs from the stored secret, given wins and both files are
// rewritten. (K3s refuses to start in that case because its bootstrap data
// is encrypted with the token; k3lite keeps no data encrypted with it, so a
// new --token simply rotates the join secret: nodes that joined with the old
// one keep their credentials, new joins need the new token.) A stored token
// with another CA hash (the CA was recreated) is rewritten with caHash.
func Ensure(serverDir, caHash, given string) (server Token, node Token, err error) {
	if err := ValidateCAHash(caHash); err != nil {
		return Token{}, Token{}, fmt.Errorf("server CA: %w", err)
	}
	caHash = strings.ToLower(caHash)

	var secret string
	if strings.TrimSpace(given) != "" {
		g, err := Parse(given)
		if err != nil {
			return Token{}, Token{}, fmt.Errorf("--token: %w", err)
		}
		if g.CAHash != "" && g.CAHash != caHash {
			return Token{}, Token{}, errors.New("token CA hash does not match this server's CA: the token was issued by another server (or the CA was recreated); use the token from this server's node-token file or a bare secret")
		}
		secret = g.Password
	}

	serverPath := filepath.Join(serverDir, ServerFile)
	nodePath := filepath.Join(serverDir, NodeFile)
	if secret == "" {
		stored, err := readToken(serverPath)
		if err != nil {
			return Token{}, Token{}, err
		}
		secret = stored.Password
	}
	if secret == "" {
		b := make([]byte, secretBytes)
		if _, err := rand.Read(b); err != nil {
			return Token{}, Token{}, fmt.Errorf("generate token secret: %w", err)
		}
		secret = hex.EncodeToString(b)
	}

	server = Token{CAHash: caHash, Username: ServerUser, Password: secret}
	node = Token{CAHash: caHash, Username: NodeUser, Password: secret}
	if err := os.MkdirAll(serverDir, 0o700); err != nil {
		return Token{}, Token{}, fmt.Errorf("create server directory %s: %w", serverDir, err)
	}
	if err := writeToken(serverPath, server); err != nil {
		return Token{}, Token{}, err
	}
	if err := writeToken(nodePath, node); err != nil {
		return Token{}, Token{}, err
	}
	return server, node, nil
}

// readToken returns the token stored in path, or the zero Token when there
// is none.
func readToken(path string) (Token, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Token{}, nil
	}
	if err != nil {
		return Token{}, fmt.Errorf("read stored token: %w", err)
	}
	t, err := Parse(string(data))
	if err != nil {
		return Token{}, fmt.Errorf("stored token file %s: %w (fix it, or delete it to generate a new secret)", path, err)
	}
	return t, nil
}

// writeToken stores t followed by a newline with mode 0600, rewriting the
// file only when its content differs (the mode is always fixed).
func writeToken(path string, t Token) error {
	want := t.String() + "\n"
	if have, err := os.ReadFile(path); err == nil && string(have) == want {
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("set mode of %s: %w", path, err)
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	// CreateTemp creates the file 0600 already; Chmod documents the intent.
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.WriteString(want)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
