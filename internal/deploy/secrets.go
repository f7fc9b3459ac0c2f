package deploy

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/distrobench/distrobench/internal/atomicfile"
	"github.com/distrobench/distrobench/internal/datastore"
)

// ServerTokenFile is the file in the run directory (0600) that holds the
// server's join token; the server reads it with --token-file, as K3s
// documents, so the token is never on a command line.
const ServerTokenFile = "server-token"

// endpointEnvVar is the variable binary reads its datastore endpoint from
// (distributions). An unknown name is an error: a K3s-style server that
// finds no endpoint silently falls back to SQLite, which would measure the
// wrong datastore.
func endpointEnvVar(binary string) (string, error) {
	if d, ok := distributionOf(binary); ok {
		return d.endpointEnv, nil
	}
	return "", fmt.Errorf("binary %s: cannot tell which environment variable it reads the datastore endpoint from (the harness passes the endpoint there, never on the command line, where every local user could read its password): its name must start with one of %s",
		binary, strings.Join(knownPrefixes(), ", "))
}

// datastoreEnv is the environment entry that hands the server its
// datastore endpoint (none when the datastore needs none): the one place
// the endpoint, which holds the password, meets the server. On a
// simulated host the endpoint is first rewritten for it and dialled from
// there (serverEndpoint), after the counting proxy took the datastore
// server's place in it (routeDatastore).
func (c *Cluster) datastoreEnv(ctx context.Context, binary string, inst *datastore.Instance) ([]string, error) {
	if inst.Endpoint == "" {
		return nil, nil
	}
	name, err := endpointEnvVar(binary)
	if err != nil {
		return nil, err
	}
	endpoint, err := c.routeDatastore(inst.Endpoint)
	if err != nil {
		return nil, err
	}
	endpoint, err = c.serverEndpoint(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	return []string{name + "=" + endpoint}, nil
}

// writeTokenFile writes the server's token to RUN/ServerTokenFile (0600)
// and returns the file's path.
func writeTokenFile(runDir, token string) (string, error) {
	path := filepath.Join(runDir, ServerTokenFile)
	if err := atomicfile.Write(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the server's token file: %w", err)
	}
	return path, nil
}
