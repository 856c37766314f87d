//! The example events in events/ stay true: the step files parse as their step, the bad ones are refused.

use iam_key_rotator::{RotationEvent, Step};

#[test]
fn every_example_event_parses_as_its_name_says() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("events/") {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let parsed = RotationEvent::from_json(&value);
        if name.starts_with("bad_") {
            assert_eq!(parsed.expect_err(&name).kind(), "InvalidEvent", "{name}");
        } else {
            let event = parsed.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(Some(event.step), Step::parse(&name), "{name}");
        }
        seen += 1;
    }
    assert!(seen >= 8, "found only {seen} example events");
}
