package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// mysqlStatusKinds are the SHOW GLOBAL STATUS variables read, by the kind
// they are reported as. Questions counts every statement clients sent
// (stored-program statements not); the Com_ ones count statements by
// command.
var mysqlStatusKinds = map[string]string{
	"Questions":  "questions",
	"Com_select": "select",
	"Com_insert": "insert",
	"Com_update": "update",
	"Com_delete": "delete",
	"Com_commit": "commit",
}

// mysqlStatusQuery selects mysqlStatusKinds' variables.
const mysqlStatusQuery = `SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions','Com_select','Com_insert','Com_update','Com_delete','Com_commit')`

// statements of a MySQL (MariaDB) server: its global counters, which count
// every database on the server (a server the run started serves kine
// alone). Questions counts the readings' own SHOWs: those are subtracted.
// The reader keeps one connection open for all its readings, because
// closing one adds a question too, and when the server gets to it is
// not known (measured on MariaDB 10.11: 1 or 2 questions between two
// readings that each opened and closed a connection).
func (mysqlDriver) statements(ctx context.Context, r *StatementReader) (Statements, error) {
	if r.db == nil {
		cfg, err := mysqlSizeConfig(r.t.Endpoint)
		if err != nil {
			return Statements{}, err
		}
		conn, err := mysql.NewConnector(cfg)
		if err != nil {
			return Statements{}, err
		}
		r.db = sql.OpenDB(conn)
		r.db.SetMaxOpenConns(1)
		r.db.SetMaxIdleConns(1)
	}
	counts, err := mysqlStatus(ctx, r.db)
	if err != nil {
		return Statements{}, err
	}
	return mysqlStatements(counts, r.readings)
}

// mysqlStatus reads mysqlStatusKinds' variables.
func mysqlStatus(ctx context.Context, db *sql.DB) (map[string]float64, error) {
	rows, err := db.QueryContext(ctx, mysqlStatusQuery)
	if err != nil {
		return nil, fmt.Errorf("SHOW GLOBAL STATUS: %w", err)
	}
	defer rows.Close()
	counts := map[string]float64{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, fmt.Errorf("SHOW GLOBAL STATUS: %w", err)
		}
		if kind, ok := mysqlStatusKinds[name]; ok {
			if counts[kind], err = strconv.ParseFloat(value, 64); err != nil {
				return nil, fmt.Errorf("SHOW GLOBAL STATUS: %s=%q: %w", name, value, err)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("SHOW GLOBAL STATUS: %w", err)
	}
	return counts, nil
}

// mysqlStatements checks a reading has every variable and leaves out the
// readings' own questions.
func mysqlStatements(counts map[string]float64, readings int) (Statements, error) {
	for name, kind := range mysqlStatusKinds {
		if _, ok := counts[kind]; !ok {
			return Statements{}, fmt.Errorf("SHOW GLOBAL STATUS has no %s (is this MySQL or MariaDB?)", name)
		}
	}
	counts["questions"] = max(0, counts["questions"]-float64(readings))
	return Statements{Counts: counts, Method: "SHOW GLOBAL STATUS"}, nil
}

// postgresStatsQuery reads the database's row of pg_stat_database.
// Backends report their counts when a transaction ends, at most once a
// second, and an idle one within 10 s (PostgreSQL 15+): a reading lags by
// up to that much, which a window of many intervals absorbs.
const postgresStatsQuery = `SELECT xact_commit + xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted
FROM pg_stat_database WHERE datname = $1`

// postgresMaintenanceDB is the database the reading connects to: not the
// one it reads, so its own transaction and catalog lookups are not counted
// there. Every PostgreSQL cluster has it (initdb creates it); a server the
// run started admits kine, its superuser, to it.
const postgresMaintenanceDB = "postgres"

// statements of a PostgreSQL database: its row of pg_stat_database, read
// from the maintenance database.
func (postgresDriver) statements(ctx context.Context, r *StatementReader) (Statements, error) {
	connURL, db, err := postgresStatsURL(r.t.Endpoint)
	if err != nil {
		return Statements{}, err
	}
	conn, err := pgx.Connect(ctx, connURL)
	if err != nil {
		return Statements{}, fmt.Errorf("connect to the %s database: %w", postgresMaintenanceDB, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var xacts, returned, fetched, inserted, updated, deleted int64
	err = conn.QueryRow(ctx, postgresStatsQuery, db).Scan(&xacts, &returned, &fetched, &inserted, &updated, &deleted)
	if errors.Is(err, pgx.ErrNoRows) {
		return Statements{}, fmt.Errorf("pg_stat_database has no database %q (is it the one the server uses?)", db)
	}
	if err != nil {
		return Statements{}, fmt.Errorf("pg_stat_database: %w", err)
	}
	return Statements{Method: "pg_stat_database", Counts: map[string]float64{
		"transactions": float64(xacts), "tup_returned": float64(returned), "tup_fetched": float64(fetched),
		"tup_inserted": float64(inserted), "tup_updated": float64(updated), "tup_deleted": float64(deleted),
	}}, nil
}

// postgresStatsURL is endpoint pointed at the maintenance database, and the
// database the endpoint names (kine's default when none).
func postgresStatsURL(endpoint string) (connURL, db string, err error) {
	sizeURL, err := postgresSizeURL(endpoint)
	if err != nil {
		return "", "", err
	}
	u, err := url.Parse(sizeURL)
	if err != nil {
		return "", "", errors.New("the postgres endpoint is not a valid URL")
	}
	db = strings.TrimPrefix(u.Path, "/")
	u.Path = "/" + postgresMaintenanceDB
	return u.String(), db, nil
}
