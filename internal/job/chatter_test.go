package job

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/distrobench/distrobench/internal/chatter"
	"github.com/distrobench/distrobench/internal/datastore/dstype"
	"github.com/distrobench/distrobench/internal/deploy"
)

func TestChatterClientsByBinary(t *testing.T) {
	for bin, want := range map[string]string{
		"/x/k3lite-linux-amd64": "system:k3lite-agent-controller",
		"/usr/local/bin/k3s":    "system:k3s-controller",
		"/usr/bin/rke2":         "",
	} {
		var flannel string
		for _, c := range chatterClients(bin) {
			if c.Client == "flannel" {
				flannel = c.User
			}
		}
		if flannel != want {
			t.Errorf("%s: flannel user %q, want %q", bin, flannel, want)
		}
	}
}

func TestDatastoreWritesSource(t *testing.T) {
	inServer := &deploy.Cluster{Datastore: dstype.SQLite, ServerPID: os.Getpid()}
	read, of := datastoreWrites(inServer)
	if w, err := read(); err != nil || w.Source != "pid "+strconv.Itoa(os.Getpid()) || !strings.Contains(of, "server process") {
		t.Errorf("sqlite: %+v, %v, %q; want the server process alone", w, err, of)
	}
	started := &deploy.Cluster{Datastore: dstype.Postgres, DatastorePIDs: []int{os.Getpid()}}
	if w, err := mustRead(datastoreWrites(started)); err != nil || !strings.HasPrefix(w.Source, "pids") {
		t.Errorf("postgres the run started: %+v, %v; want its process tree", w, err)
	}
	users := &deploy.Cluster{Datastore: dstype.Postgres}
	if _, err := mustRead(datastoreWrites(users)); err == nil || !strings.Contains(err.Error(), "the user's") {
		t.Errorf("the user's postgres: %v, want not measured with the reason", err)
	}
}

func mustRead(read func() (chatter.DiskWrites, error), _ string) (chatter.DiskWrites, error) {
	return read()
}
