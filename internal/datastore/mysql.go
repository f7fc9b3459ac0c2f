package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/distrobench/distrobench/internal/process"
	"github.com/distrobench/distrobench/internal/profile"
)

func init() { Register(mysqlDriver{}) }

// mysqlDriver starts a local MariaDB server (Debian's mariadb-server) for
// the run, with a database and a user "kine" whose password is random.
type mysqlDriver struct{}

func (mysqlDriver) Name() string { return profile.DatastoreMySQL }
func (mysqlDriver) Description() string {
	return "MariaDB/MySQL through kine: a local MariaDB server for the run, or --datastore-endpoint mysql://user:pass@tcp(host:3306)/db"
}

func (mysqlDriver) Start(ctx context.Context, dir string, g *process.Group, log *slog.Logger) (inst *Instance, err error) {
	mariadbd, err := findBinary("mariadbd")
	if err != nil {
		return nil, err
	}
	installDB, err := findBinary("mariadb-install-db")
	if err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "mysql")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("mysql: create data dir: %w", err)
	}
	logPath := filepath.Join(dir, "mysql.log")
	sock, err := unixSocketPath(dir, "mysql.sock")
	if err != nil {
		return nil, fmt.Errorf("mysql: socket: %w", err)
	}

	if _, err := os.Stat(filepath.Join(dataDir, "mysql")); errors.Is(err, os.ErrNotExist) {
		if err := runToCompletion(ctx, g, process.Spec{
			Name: "mariadb-install-db", Path: installDB, LogPath: logPath,
			Args: []string{"--no-defaults", "--datadir=" + dataDir, "--user=root",
				"--auth-root-authentication-method=normal", "--skip-test-db"},
		}); err != nil {
			return nil, fmt.Errorf("mysql: %w", err)
		}
	}

	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p, err := g.Start(ctx, process.Spec{
		Name: "mariadbd", Path: mariadbd, LogPath: logPath,
		Args: []string{"--no-defaults", "--datadir=" + dataDir, "--user=root",
			"--bind-address=127.0.0.1", fmt.Sprintf("--port=%d", port), "--socket=" + sock,
			"--pid-file=" + filepath.Join(dataDir, "mariadbd.pid"), "--skip-name-resolve"},
	})
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	defer func() {
		if err != nil {
			_, _, _ = p.Stop(process.DefaultStopTimeout)
		}
	}()

	// root has no password and may log in over the socket only.
	rootCfg := mysql.NewConfig()
	rootCfg.User = "root"
	rootCfg.Net = "unix"
	rootCfg.Addr = sock
	if err := waitReady(ctx, p, "mariadbd", func(ctx context.Context) error { return pingMySQL(ctx, rootCfg) }); err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}

	pass, err := randomPassword()
	if err != nil {
		return nil, err
	}
	if err := execMySQL(ctx, rootCfg,
		"CREATE DATABASE IF NOT EXISTS kine",
		fmt.Sprintf("CREATE USER IF NOT EXISTS 'kine'@'%%' IDENTIFIED BY '%s'", pass),
		"GRANT ALL PRIVILEGES ON kine.* TO 'kine'@'%'",
	); err != nil {
		return nil, fmt.Errorf("mysql: create database and user kine: %w", err)
	}

	// The real query: the user kine over TCP, as the server will connect.
	kineCfg := mysql.NewConfig()
	kineCfg.User, kineCfg.Passwd, kineCfg.Net = "kine", pass, "tcp"
	kineCfg.Addr, kineCfg.DBName = fmt.Sprintf("127.0.0.1:%d", port), "kine"
	if err := pingMySQL(ctx, kineCfg); err != nil {
		return nil, fmt.Errorf("mysql: user kine cannot connect over TCP: %w", err)
	}

	inst = &Instance{
		Driver:   profile.DatastoreMySQL,
		Endpoint: fmt.Sprintf("mysql://kine:%s@tcp(127.0.0.1:%d)/kine", pass, port),
		Procs:    []*process.Proc{p},
		DataDirs: []string{dataDir},
		secrets:  []string{pass},
	}
	inst.ServerArgs = []string{"--datastore-endpoint", inst.Endpoint}
	if log != nil {
		log.Info("datastore ready", "datastore", inst.Driver, "endpoint", inst.Redacted(), "pid", p.PID, "log", logPath)
	}
	return inst, nil
}

func pingMySQL(ctx context.Context, cfg *mysql.Config) error {
	return execMySQL(ctx, cfg, "SELECT 1")
}

func execMySQL(ctx context.Context, cfg *mysql.Config, stmts ...string) error {
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// mysqlConfig parses K3s's mysql://DSN form.
func mysqlConfig(endpoint string) (*mysql.Config, error) {
	return mysql.ParseDSN(strings.TrimPrefix(endpoint, "mysql://"))
}
