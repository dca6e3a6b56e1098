//! Durations in scenario files.

use std::time::Duration;

use podlab_scenario::parse_duration;

#[test]
fn units_and_plain_seconds() {
    assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
    assert_eq!(parse_duration("0.25"), Ok(Duration::from_millis(250)));
}

#[test]
fn nonsense_is_rejected_with_a_hint() {
    for bad in ["", "5 minutes", "s", "10x", "-1s", "-3", "1..2s"] {
        let err = parse_duration(bad).expect_err(bad);
        assert!(err.to_string().contains("like 500ms, 30s, 2m"), "{err}");
    }
}
