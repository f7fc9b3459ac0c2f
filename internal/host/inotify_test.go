package host

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeInotify(t *testing.T, instances, watches string) string {
	t.Helper()
	dir := t.TempDir()
	for name, v := range map[string]string{"max_user_instances": instances, "max_user_watches": watches} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := InotifyDir
	InotifyDir = dir
	t.Cleanup(func() { InotifyDir = old })
	return dir
}

func value(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// Ten nodes (five two-node clusters) need more than the default 128
// instances; the raise is undone by restore, and a higher limit is kept.
func TestRaiseInotify(t *testing.T) {
	dir := fakeInotify(t, "128", "1000000")
	did, restore, err := RaiseInotify(10)
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, dir, "max_user_instances"); got != "448" {
		t.Errorf("max_user_instances = %s, want 448 (128 + 10 x 32)", got)
	}
	if got := value(t, dir, "max_user_watches"); got != "1000000" {
		t.Errorf("max_user_watches = %s, want the higher 1000000 kept", got)
	}
	if !strings.Contains(did, "fs.inotify.max_user_instances 128 -> 448") || strings.Contains(did, "watches") {
		t.Errorf("did = %q", did)
	}
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	if got := value(t, dir, "max_user_instances"); got != "128" {
		t.Errorf("after restore max_user_instances = %s, want 128", got)
	}
}

func TestRaiseInotifyNothingToDo(t *testing.T) {
	fakeInotify(t, "8192", "1000000")
	did, restore, err := RaiseInotify(2)
	if err != nil || did != "" || restore() != nil {
		t.Errorf("limits already high: did %q, err %v", did, err)
	}
}
