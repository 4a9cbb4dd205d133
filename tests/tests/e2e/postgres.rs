//! PostgreSQL from Debian, with a throwaway data directory.

use kplug_tests::e2e::postgres::Postgres;

#[test]
fn postgres_starts_and_answers_sql() {
    let pg = Postgres::start();
    assert_eq!(pg.psql("select 40 + 2"), "42");
    pg.psql("create database kplug_events");
    assert!(
        pg.psql("select datname from pg_database")
            .lines()
            .any(|l| l == "kplug_events")
    );
    assert!(
        pg.url("kplug_events")
            .starts_with("postgresql://postgres@127.0.0.1:")
    );
}
