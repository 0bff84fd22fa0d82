use super::*;

#[test]
fn bounds_need_an_explicit_offset_and_drop_fractions() {
    assert_eq!(parse_bound("2026-11-23T14:00:00Z"), Some(1_795_442_400));
    assert_eq!(
        parse_bound("2026-11-23T09:00:00-05:00"),
        Some(1_795_442_400)
    );
    assert_eq!(parse_bound("2026-11-23T14:00:00.999Z"), Some(1_795_442_400));
    for bad in [
        "2026-11-23T14:00:00",
        "2026-11-23",
        "tomorrow",
        "",
        "+1",
        "2026-11-23T14:00:00-05:00[America/New_York]",
    ] {
        assert_eq!(parse_bound(bad), None, "{bad}");
    }
}
