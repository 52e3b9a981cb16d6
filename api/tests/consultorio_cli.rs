//! `rete sync import consultorio FILE`, run as a real process: the validation
//! report on stdout, the same file twice changes nothing, a bad file is an
//! error that names its problem.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

mod common;

use common::{rete, serve_demo};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../connectors/tests/fixtures/consultorio/export-2025-q1.csv"
);

const CONFIG: &str =
    "[connectors.centro]\nkind = \"consultorio\"\nagency = \"consultorio-centro\"\n";

fn import(dir: &std::path::Path, file: &str) -> std::process::Output {
    rete(dir)
        .args([
            "--config",
            "rete.toml",
            "sync",
            "import",
            "consultorio",
            file,
        ])
        .output()
        .unwrap()
}

#[test]
fn rete_sync_import_consultorio_prints_the_report_and_a_second_import_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // The demo network (the consultorio's agency) is seeded by a first serve.
    drop(serve_demo(dir.path()));
    std::fs::write(dir.path().join("rete.toml"), CONFIG).unwrap();
    let out = import(dir.path(), FIXTURE);
    assert_eq!(out.status.code(), Some(0), "{:?}", out);
    let first = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = first.lines().collect();
    assert!(
        lines[0].ends_with(
            "of centro: fetched 13, created 16, updated 2, unchanged 0, skipped 0, rejected 6"
        ),
        "{first}"
    );
    assert_eq!(
        lines[1..],
        [
            "  rejected row 6: event_date `31/02/2025` is not a date",
            "  rejected row 9: mother_codice_fiscale is not a codice fiscale: it has a wrong check character (the 16th)",
            "  rejected row 10: event `VISITA` is not PREGNANCY, BIRTH or COUNSELLING",
            "  rejected row 11: child_given_name is empty (a BIRTH row needs the child's data); child_family_name is empty (a BIRTH row needs the child's data); child_sex is empty (a BIRTH row needs the child's data)",
            "  rejected row 12: counselling_kind is empty (a COUNSELLING row needs it)",
            "  rejected row 14: mother_family_name is empty",
        ]
    );
    let out = import(dir.path(), FIXTURE);
    assert_eq!(out.status.code(), Some(0));
    let second = String::from_utf8(out.stdout).unwrap();
    assert!(
        second.contains("created 0, updated 0, unchanged 18, skipped 0, rejected 6"),
        "{second}"
    );
}

#[test]
fn rete_sync_import_of_a_bad_consultorio_file_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rete.toml"), CONFIG).unwrap();
    std::fs::write(dir.path().join("bad.csv"), "record_id;event\nR1;BIRTH\n").unwrap();
    let out = import(dir.path(), "bad.csv");
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.csv: the header lacks the required column(s) event_date, mother_codice_fiscale, mother_given_name, mother_family_name"),
        "{err}"
    );
}
