package deploy

import (
	"testing"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/profile"
)

func TestDatastoreChoice(t *testing.T) {
	const mine = "mysql://u:p@tcp(db:3306)/kine"
	p := &profile.Profile{}
	p.Spec.Datastore = profile.DatastoreSpec{Type: dstype.MySQL, Endpoint: mine}
	tests := []struct {
		name         string
		o            Options
		ds, endpoint string
	}{
		{"the profile's", Options{}, dstype.MySQL, mine},
		{"same type keeps the profile's endpoint", Options{Datastore: dstype.MySQL}, dstype.MySQL, mine},
		{"another type drops it", Options{Datastore: dstype.Postgres}, dstype.Postgres, ""},
		{"the options' endpoint wins", Options{Endpoint: "mysql://other"}, dstype.MySQL, "mysql://other"},
	}
	for _, tt := range tests {
		ds, ep := tt.o.datastoreChoice(p)
		if ds != tt.ds || ep != tt.endpoint {
			t.Errorf("%s: got %q %q, want %q %q", tt.name, ds, ep, tt.ds, tt.endpoint)
		}
	}
}
