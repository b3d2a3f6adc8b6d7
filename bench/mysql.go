package main

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	// The pure-Go driver of the go-mysql module Tidemark already uses.
	_ "github.com/go-mysql-org/go-mysql/driver"
)

// shardDB is the admin connection pool to the one shard the bench uses.
type shardDB struct {
	addr string
	db   *sql.DB
}

func openShard(ctx context.Context, addr, user, password string, conns int) (*shardDB, error) {
	db, err := sql.Open("mysql", fmt.Sprintf("%s:%s@%s/", user, password, addr))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", addr, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(time.Hour)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to shard %s as %s: %w", addr, user, err)
	}
	return &shardDB{addr: addr, db: db}, nil
}

func (s *shardDB) close() { s.db.Close() }

func (s *shardDB) exec(ctx context.Context, stmts ...string) error {
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("on %s: %s: %w", s.addr, abbreviate(q, 120), err)
		}
	}
	return nil
}

// resetBenchDatabase drops and recreates the bench database with an empty
// table, so every run starts from the same state.
func (s *shardDB) resetBenchDatabase(ctx context.Context, database, table string) error {
	return s.exec(ctx,
		"DROP DATABASE IF EXISTS "+database,
		"CREATE DATABASE "+database,
		fmt.Sprintf(benchTableDDL, database+"."+table),
	)
}

// Debezium's MySQL connector documents these privileges: SELECT, RELOAD
// (its snapshot takes FLUSH TABLES WITH READ LOCK, even in no_data mode),
// SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT. Tidemark's user has
// only the last two and SELECT; rather than run Debezium as the admin, the
// bench gives it its own user with exactly what it documents.
func (s *shardDB) ensureDebeziumUser(ctx context.Context, user, password string) error {
	var stmts []string
	for _, host := range []string{"127.0.0.1", "localhost"} {
		stmts = append(stmts,
			fmt.Sprintf("CREATE USER IF NOT EXISTS '%s'@'%s' IDENTIFIED BY '%s'", user, host, password),
			fmt.Sprintf("GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '%s'@'%s'", user, host),
		)
	}
	return s.exec(ctx, stmts...)
}

func (s *shardDB) version(ctx context.Context) string {
	var v string
	_ = s.db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&v)
	return v
}

// variables returns the server settings that shape what a connector reads.
func (s *shardDB) variables(ctx context.Context, names ...string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		var name, v string
		if err := s.db.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE '"+n+"'").Scan(&name, &v); err == nil {
			out[n] = v
		}
	}
	return out
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
