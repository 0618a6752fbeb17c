//! The scratch PostgreSQL the cluster-mode tests start (issue 22): Debian's package,
//! `initdb` into a temporary folder, loopback only, gone when dropped.

use std::net::TcpStream;

use serverful_e2e::postgres::Postgres;

#[test]
fn a_scratch_postgresql_listens_on_loopback_only_and_stops_when_dropped() {
    let postgres = Postgres::start();
    assert_eq!(postgres.psql("SELECT 1 + 1"), "2");
    assert_eq!(postgres.psql("SHOW listen_addresses"), "127.0.0.1");
    postgres.psql("CREATE TABLE notes (id int PRIMARY KEY, body text)");
    postgres.psql("INSERT INTO notes VALUES (1, 'kept')");
    assert_eq!(postgres.psql("SELECT body FROM notes WHERE id = 1"), "kept");
    let port = postgres.port;
    let root = postgres.root().to_owned();
    drop(postgres);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens on {port}"
    );
    assert!(!root.exists(), "{} was left behind", root.display());
}
