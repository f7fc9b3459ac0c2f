package redact

import (
	"strings"
	"testing"
)

func TestEndpointAndString(t *testing.T) {
	cases := map[string]string{
		"postgres://kine:s3cret@127.0.0.1:5432/kine?sslmode=disable": "postgres://kine:REDACTED@127.0.0.1:5432/kine?sslmode=disable",
		"mysql://root:pa:ss@tcp(127.0.0.1:3306)/kine":                "mysql://root:REDACTED@tcp(127.0.0.1:3306)/kine",
		"root:hunter2@tcp(127.0.0.1:3306)/kine":                      "root:REDACTED@tcp(127.0.0.1:3306)/kine",
		"https://127.0.0.1:2379":                                     "https://127.0.0.1:2379",
		"sqlite:///var/lib/db/state.db":                              "sqlite:///var/lib/db/state.db",
	}
	for in, want := range cases {
		if got := Endpoint(in); got != want {
			t.Errorf("Endpoint(%q) = %q, want %q", in, got, want)
		}
	}
	tok := "K10" + strings.Repeat("ab", 32) + "::server:topsecret"
	if got := String("join with " + tok + " now"); strings.Contains(got, "topsecret") {
		t.Errorf("token leaked: %q", got)
	}
	if got := String("dial mysql://u:pw@tcp(h:1)/d failed"); strings.Contains(got, "pw@") {
		t.Errorf("password leaked: %q", got)
	}
}

func TestArgs(t *testing.T) {
	got := Args([]string{"server", "--token", "abc", "--datastore-endpoint", "postgres://u:p@h/db", "--token=xyz"})
	joined := strings.Join(got, " ")
	for _, secret := range []string{"abc", ":p@", "xyz"} {
		if strings.Contains(joined, secret) {
			t.Errorf("Args leaked %q: %v", secret, got)
		}
	}
	if got[0] != "server" || got[1] != "--token" {
		t.Errorf("Args changed non-secret words: %v", got)
	}
}
