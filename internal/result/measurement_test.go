package result

import "testing"

// TestWithAttributeCopies: measurements that shared an attribute map must
// not change together when one gets another attribute.
func TestWithAttributeCopies(t *testing.T) {
	shared := map[string]string{"cpu.method": "cgroup"}
	a := Measurement{Name: "a", Attributes: shared}
	b := a.WithAttribute("load.quiesce", "settled")
	if b.Attributes["load.quiesce"] != "settled" || b.Attributes["cpu.method"] != "cgroup" {
		t.Errorf("WithAttribute = %v, want both attributes", b.Attributes)
	}
	if _, ok := shared["load.quiesce"]; ok || len(a.Attributes) != 1 {
		t.Errorf("WithAttribute changed the original map: %v", shared)
	}
}
