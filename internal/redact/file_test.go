package redact

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileMasksInPlaceAndKeepsXMLWellFormed(t *testing.T) {
	dir := t.TempDir()
	tok := "K10" + strings.Repeat("ab", 32) + "::server:topsecret"
	doc := `<r><failure message="run --token abc123">dial postgres://u:pw1@h/db with ` + tok + `</failure><x>password=hunter2</x><y>no newline at end</y></r>`
	path := filepath.Join(dir, "junit.xml")
	if err := os.WriteFile(path, []byte(doc), 0o640); err != nil {
		t.Fatal(err)
	}
	changed, err := File(path)
	if err != nil || !changed {
		t.Fatalf("File = %v, %v; want changed", changed, err)
	}
	b, _ := os.ReadFile(path)
	for _, secret := range []string{"abc123", "pw1@", "topsecret", "hunter2"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("%q survived: %s", secret, b)
		}
	}
	if err := xml.Unmarshal(b, new(struct{})); err != nil {
		t.Errorf("redacted XML is no longer well-formed: %v\n%s", err, b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640 kept", fi.Mode().Perm())
	}

	clean := filepath.Join(dir, "clean.log")
	if err := os.WriteFile(clean, []byte("nothing secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(clean)
	if changed, err := File(clean); err != nil || changed {
		t.Errorf("File of a clean log = %v, %v; want unchanged", changed, err)
	}
	if after, _ := os.Stat(clean); !os.SameFile(before, after) {
		t.Error("a clean file was rewritten")
	}
	if changed, err := File(filepath.Join(dir, "missing.log")); err != nil || changed {
		t.Errorf("File of a missing file = %v, %v; want no error", changed, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}
