package token

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var (
	hashA = strings.Repeat("ab", 32)
	hashB = strings.Repeat("cd", 32)
)

const secret = "s3cr3t-Value_42"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Token
	}{
		{"K10" + hashA + "::server:" + secret, Token{hashA, "server", secret}},
		{"  K10" + hashA + "::node:" + secret + "\n", Token{hashA, "node", secret}},
		{"K10" + strings.ToUpper(hashA) + "::server:" + secret, Token{hashA, "server", secret}},
		{"K10" + hashA + "::server:pa:ss", Token{hashA, "server", "pa:ss"}},
		{secret, Token{Password: secret}},
		{"\t" + secret + "\r\n", Token{Password: secret}},
		{"user:pass-with-colon", Token{Password: "user:pass-with-colon"}},
	} {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseErrorsNeverEchoTheSecret(t *testing.T) {
	const pw = "TOPSECRETxyz"
	for _, tc := range []struct {
		in, wantErr string
	}{
		{"", "empty"},
		{"   \n", "empty"},
		{"K10" + hashA[:63] + "::server:" + pw, "63 characters"},
		{"K10" + hashA + "ab::server:" + pw, "66 characters"},
		{"K10" + strings.Repeat("zz", 32) + "::server:" + pw, "non-hex"},
		{"K10::server:" + pw, "0 characters"},
		{"K10" + hashA + "::server:", "empty password"},
		{"K10" + hashA + "::" + pw, "<user>:<password>"},
		{"K10" + hashA + ":::" + pw, "<user>:<password>"},
		{"K10" + hashA + "::", "<user>:<password>"},
		{"K10" + hashA + pw, "no \"::\""},
		{pw + "::", "\"::\""},
		{"abc" + pw + "::server:" + pw, "\"::\""},
		{"TOP SECRETxyz", "whitespace"},
		{"K10" + hashA + "::server:TOPSECRET xyz", "whitespace"},
	} {
		_, err := Parse(tc.in)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want error containing %q", tc.in, tc.wantErr)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, tc.wantErr) {
			t.Errorf("Parse(%q) error %q, want it to contain %q", tc.in, msg, tc.wantErr)
		}
		for _, leak := range []string{"TOPSECRET", "SECRETxyz", hashA[:16], "zzzz"} {
			if strings.Contains(msg, leak) {
				t.Errorf("Parse(%q) error leaks %q: %s", tc.in, leak, msg)
			}
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, tok := range []Token{
		{hashA, "server", secret},
		{hashA, "node", "a:b"},
		{Password: secret},
	} {
		got, err := Parse(tok.String())
		if err != nil || got != tok {
			t.Errorf("Parse(%v.String()) = %+v, %v", tok, got, err)
		}
	}
	if got := (Token{CAHash: hashA, Password: "x"}).String(); got != "K10"+hashA+"::server:x" {
		t.Errorf("String without user = %q", got)
	}
	if got := (Token{Password: "bare"}).String(); got != "bare" {
		t.Errorf("bare String = %q", got)
	}
	r := Token{hashA, "server", secret}.Redacted()
	if strings.Contains(r, secret) || !strings.HasPrefix(r, "K10"+hashA+"::server:") {
		t.Errorf("Redacted = %q", r)
	}
	if r := (Token{Password: secret}).Redacted(); strings.Contains(r, secret) {
		t.Errorf("Redacted bare = %q", r)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %#o, want 0600", p, fi.Mode().Perm())
	}
	return string(b)
}

func TestEnsureGeneratesAndReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "server")
	srv, node, err := Ensure(dir, hashA, "")
	if err != nil {
		t.Fatal(err)
	}
	if srv.CAHash != hashA || srv.Username != "server" || node.CAHash != hashA || node.Username != "node" {
		t.Errorf("tokens = %+v / %+v", srv, node)
	}
	if len(srv.Password) != 64 || strings.Trim(srv.Password, "0123456789abcdef") != "" {
		t.Errorf("generated secret %q is not 32 random bytes in hex", srv.Password)
	}
	if node.Password != srv.Password {
		t.Error("node token does not share the server secret")
	}
	if got := readFile(t, filepath.Join(dir, "token")); got != srv.String()+"\n" {
		t.Errorf("token file = %q, want %q", got, srv.String())
	}
	if got := readFile(t, filepath.Join(dir, "node-token")); got != node.String()+"\n" {
		t.Errorf("node-token file = %q", got)
	}

	// restart: same secret
	srv2, node2, err := Ensure(dir, hashA, "")
	if err != nil {
		t.Fatal(err)
	}
	if srv2 != srv || node2 != node {
		t.Errorf("restart changed tokens: %+v -> %+v", srv, srv2)
	}
	// another fresh server gets another secret
	other, _, err := Ensure(t.TempDir(), hashA, "")
	if err != nil {
		t.Fatal(err)
	}
	if other.Password == srv.Password {
		t.Error("two servers generated the same secret")
	}

	// mode repaired on restart
	if err := os.Chmod(filepath.Join(dir, "token"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Ensure(dir, hashA, ""); err != nil {
		t.Fatal(err)
	}
	readFile(t, filepath.Join(dir, "token"))
}

func TestEnsureGivenToken(t *testing.T) {
	t.Run("bare secret", func(t *testing.T) {
		dir := t.TempDir()
		srv, node, err := Ensure(dir, hashA, " "+secret+"\n")
		if err != nil {
			t.Fatal(err)
		}
		if srv.String() != "K10"+hashA+"::server:"+secret || node.String() != "K10"+hashA+"::node:"+secret {
			t.Errorf("tokens = %s / %s", srv, node)
		}
		// restart without --token reuses it
		srv2, _, err := Ensure(dir, hashA, "")
		if err != nil || srv2 != srv {
			t.Errorf("restart: %+v, %v", srv2, err)
		}
	})
	t.Run("secure token with matching hash, any case", func(t *testing.T) {
		srv, _, err := Ensure(t.TempDir(), strings.ToUpper(hashA), "K10"+hashA+"::node:"+secret)
		if err != nil {
			t.Fatal(err)
		}
		if srv != (Token{hashA, "server", secret}) {
			t.Errorf("server token = %+v", srv)
		}
	})
	t.Run("secure token of another CA", func(t *testing.T) {
		dir := t.TempDir()
		_, _, err := Ensure(dir, hashA, "K10"+hashB+"::server:"+secret)
		if err == nil || !strings.Contains(err.Error(), "token CA hash does not match this server's CA") {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks the secret: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "token")); err == nil {
			t.Error("token file written although the token was refused")
		}
	})
	t.Run("malformed given token", func(t *testing.T) {
		_, _, err := Ensure(t.TempDir(), hashA, "K10"+hashA+"::server:")
		if err == nil || !strings.Contains(err.Error(), "--token") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("given differs from stored: given wins", func(t *testing.T) {
		dir := t.TempDir()
		first, _, err := Ensure(dir, hashA, "")
		if err != nil {
			t.Fatal(err)
		}
		srv, node, err := Ensure(dir, hashA, "new-secret")
		if err != nil {
			t.Fatal(err)
		}
		if srv.Password != "new-secret" || node.Password != "new-secret" || srv.Password == first.Password {
			t.Errorf("given token did not win: %+v", srv)
		}
		if got := readFile(t, filepath.Join(dir, "token")); !strings.HasSuffix(got, ":new-secret\n") {
			t.Errorf("token file not rewritten: %q", got)
		}
		if got := readFile(t, filepath.Join(dir, "node-token")); got != "K10"+hashA+"::node:new-secret\n" {
			t.Errorf("node-token file not rewritten: %q", got)
		}
	})
}

func TestEnsureCAChangedKeepsSecret(t *testing.T) {
	dir := t.TempDir()
	first, _, err := Ensure(dir, hashA, "")
	if err != nil {
		t.Fatal(err)
	}
	srv, node, err := Ensure(dir, hashB, "")
	if err != nil {
		t.Fatal(err)
	}
	if srv.Password != first.Password || srv.CAHash != hashB || node.CAHash != hashB {
		t.Errorf("after CA change: %+v", srv)
	}
	if got := readFile(t, filepath.Join(dir, "token")); got != srv.String()+"\n" {
		t.Errorf("token file = %q", got)
	}
}

func TestEnsureErrors(t *testing.T) {
	if _, _, err := Ensure(t.TempDir(), "nothex", ""); err == nil {
		t.Error("Ensure with a bad CA hash succeeded")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("K10"+hashA+"::server:\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := Ensure(dir, hashA, "")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "token")) {
		t.Errorf("corrupt stored token: err = %v, want an error naming the file", err)
	}
	// a given token overrides a corrupt stored one
	if _, _, err := Ensure(dir, hashA, secret); err != nil {
		t.Errorf("given token with corrupt stored file: %v", err)
	}
}
