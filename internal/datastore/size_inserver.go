package datastore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/distrobench/distrobench/internal/datastore/dstype"
)

// size of a datastore inside the server: SQLite's files, or the embedded
// etcd's status over its client port. An sqlite endpoint the user gave
// names the file; the driver is the same.
func (d inServer) size(ctx context.Context, t SizeTarget) (Sizes, error) {
	switch d.name {
	case dstype.SQLite:
		path, err := sqlitePath(t.Endpoint, t.ServerDataDir)
		if err != nil {
			return Sizes{}, err
		}
		return sqliteSize(path)
	case dstype.EmbeddedEtcd:
		return embeddedEtcdSize(ctx, t)
	}
	return Sizes{}, fmt.Errorf("datastore %q cannot report its size", d.name)
}

// sqlitePath is the database file of an sqlite endpoint (sqlite:///abs/path
// or sqlite:///abs/path?params), or, with no endpoint, the file K3s and
// k3lite use: <data-dir>/server/db/state.db.
func sqlitePath(endpoint, dataDir string) (string, error) {
	if endpoint == "" || endpoint == "sqlite://" {
		if dataDir == "" {
			return "", errors.New("the server's data directory is unknown, so is its state.db")
		}
		return filepath.Join(dataDir, "server", "db", "state.db"), nil
	}
	scheme, rest, ok := strings.Cut(endpoint, "://")
	if !ok || !strings.EqualFold(scheme, "sqlite") {
		return "", fmt.Errorf("not an sqlite:// endpoint")
	}
	path, _, _ := strings.Cut(rest, "?")
	if !filepath.IsAbs(path) {
		// Relative to the server's working directory, which the harness
		// does not choose.
		return "", fmt.Errorf("the sqlite file %q is relative to the server's working directory: give an absolute path (sqlite:///abs/path/state.db)", path)
	}
	return path, nil
}

// sqliteSize is the length of the database file plus its write-ahead log
// and shared-memory index (kine runs SQLite in WAL mode: recent writes live
// in -wal until a checkpoint). Lengths, not allocated blocks: what SQLite
// holds, as the other datastores report theirs. The database file must
// exist; -wal and -shm exist only while the database is open.
func sqliteSize(path string) (Sizes, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return Sizes{}, fmt.Errorf("SQLite database: %w (does the server keep it elsewhere?)", err)
	}
	total := fi.Size()
	for _, suffix := range []string{"-wal", "-shm"} {
		fi, err := os.Stat(path + suffix)
		switch {
		case err == nil:
			total += fi.Size()
		case !errors.Is(err, fs.ErrNotExist):
			return Sizes{}, fmt.Errorf("SQLite %s file: %w", suffix, err)
		}
	}
	return Sizes{Bytes: total, InUse: -1, Method: "sqlite files"}, nil
}
