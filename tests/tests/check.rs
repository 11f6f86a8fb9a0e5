//! `ferry check SYNC` end to end: a preflight that lists every entry the destination
//! would refuse, grouped by rule, and sends nothing.

use ferry_tests::LocalSetup;
use serde_json::Value;

fn setup_with_problems() -> LocalSetup {
    let setup = LocalSetup::new(
        "never",
        "forbidden_chars = \"?:\"\nzero_byte = \"reject\"\nmax_name_length = 40\nlength_counts = \"full-path\"",
    );
    setup.write("ok.csv", b"1");
    setup.write("q?.csv", b"2");
    setup.write("a:b/inside.csv", b"3");
    setup.write("empty.csv", b"");
    setup.write(
        "reports/a-long-name-that-only-fits-without-suffix.csv",
        b"4",
    );
    setup
}

#[test]
fn every_would_be_rejected_entry_is_listed_by_rule_and_nothing_is_sent() {
    let setup = setup_with_problems();
    let (code, stdout, stderr) = setup.ferry(&["check", "push"]);
    assert_eq!(code, 1, "something would be rejected: {stderr}");
    insta::assert_snapshot!(stdout);
    assert!(!setup.destination("").exists(), "check sends nothing");
}

#[test]
fn check_json_has_the_contract_fields() {
    let setup = setup_with_problems();
    let (code, stdout, _) = setup.ferry(&["check", "push", "--json"]);
    assert_eq!(code, 1);
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["checked"], 7);
    let rejected = report["rejected"].as_array().unwrap();
    let rules: Vec<(&str, &str)> = rejected
        .iter()
        .map(|r| (r["path"].as_str().unwrap(), r["rule"].as_str().unwrap()))
        .collect();
    assert!(
        rules.contains(&("q?.csv", "forbidden-character")),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("a:b/inside.csv", "folder-rejected")),
        "{rules:?}"
    );
    assert!(rules.contains(&("empty.csv", "zero-byte")), "{rules:?}");
    for row in rejected {
        assert!(
            row["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{row}"
        );
        assert!(row.get("suggestion").is_some(), "{row}");
    }
}

#[test]
fn a_clean_source_exits_zero() {
    let setup = LocalSetup::new("never", "");
    setup.write("fine.txt", b"f");
    let (code, stdout, _) = setup.ferry(&["check", "push"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(
            "1 entry checked against generic 0.1.0 (destination inbox): 0 would be rejected"
        ),
        "{stdout}"
    );
}

#[test]
fn an_entry_breaking_one_rule_twice_is_listed_once_under_it_and_counts_read_right() {
    let setup = LocalSetup::new("never", "forbidden_chars = \"?:\"");
    setup.write("a?b:c.csv", b"1");
    let (code, stdout, _) = setup.ferry(&["check", "push"]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("forbidden-character (1 entry)\n"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("  a?b:c.csv: ").count(), 1, "{stdout}");
    assert!(
        stdout.contains("1 entry checked against generic 0.1.0 (destination inbox): 1 would be rejected (2 violations)"),
        "{stdout}"
    );
}
