use super::*;
use jiff::civil::date;
use proptest::prelude::*;

const ZONES: &[&str] = &[
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe", // 30-minute DST shift
    "Asia/Kathmandu",      // +05:45
    "Pacific/Chatham",     // +12:45 / +13:45
    "America/St_Johns",    // -03:30 with DST
    "Asia/Tokyo",          // no DST
    "Pacific/Apia",
];

fn wall(s: &str) -> WallTime {
    WallTime::parse(s).unwrap()
}

fn interval(a: &str, b: &str) -> WallInterval {
    WallInterval {
        start: wall(a),
        end: wall(b),
    }
}

/// The same hours every day of the week.
fn weekdays(intervals: Vec<WallInterval>) -> Week {
    Week::on(&EVERY_DAY, &intervals)
}

fn rules(hours: Week, breaks: Week) -> Rules {
    Rules {
        hours,
        breaks,
        exceptions: vec![],
        slot_minutes: 30,
        buffer_before_minutes: 0,
        buffer_after_minutes: 0,
        min_notice_minutes: 0,
        max_advance_days: 365,
        cancel_cutoff_hours: 24,
    }
}

fn ts(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_second()
}

#[test]
fn wall_times_parse_on_the_five_minute_grid() {
    assert_eq!(WallTime::parse("09:30").unwrap().minutes(), 570);
    assert_eq!(WallTime::parse("24:00").unwrap().minutes(), 1440);
    for bad in ["9:30", "09:31", "24:05", "09:60", "0930", "aa:bb", "-1:00"] {
        assert!(WallTime::parse(bad).is_none(), "{bad}");
    }
    let json = r#"{"start": "12:00", "end": "09:00"}"#;
    assert!(serde_json::from_str::<WallInterval>(json).is_err());
}

#[test]
fn spring_forward_day_is_an_hour_shorter_and_slots_keep_real_spacing() {
    let zone = TimeZone::get("America/New_York").unwrap();
    let r = rules(weekdays(vec![interval("00:00", "04:00")]), Week::default());
    let cal = Calendar {
        rules: &r,
        zone: &zone,
    };
    // 2026-03-08: 02:00 EST becomes 03:00 EDT; 00:00-04:00 wall is three real hours.
    let starts = cal.starts_on(date(2026, 3, 8), 1800);
    assert_eq!(starts.len(), 6);
    assert_eq!(starts[0], ts("2026-03-08T05:00:00Z"));
    assert_eq!(*starts.last().unwrap(), ts("2026-03-08T07:30:00Z"));
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST; five real hours.
    assert_eq!(cal.starts_on(date(2026, 11, 1), 1800).len(), 10);
    assert_eq!(cal.starts_on(date(2026, 11, 2), 1800).len(), 8);
}

#[test]
fn exceptions_close_days_and_add_hours() {
    let zone = TimeZone::get("Europe/London").unwrap();
    let mut r = rules(weekdays(vec![interval("09:00", "10:00")]), Week::default());
    r.exceptions = vec![
        DateException {
            date: date(2026, 12, 24),
            closed: true,
            extra_hours: vec![],
        },
        DateException {
            date: date(2026, 12, 23),
            closed: false,
            extra_hours: vec![interval("10:00", "11:00")],
        },
    ];
    let cal = Calendar {
        rules: &r,
        zone: &zone,
    };
    assert!(cal.starts_on(date(2026, 12, 24), 1800).is_empty());
    // Touching intervals merge, so a 60-minute visit may start at 09:30.
    assert_eq!(cal.starts_on(date(2026, 12, 23), 3600).len(), 3);
}

#[test]
fn check_names_each_reason() {
    let zone = TimeZone::get("UTC").unwrap();
    let mut r = rules(weekdays(vec![interval("09:00", "17:00")]), Week::default());
    r.min_notice_minutes = 120;
    r.max_advance_days = 10;
    let cal = Calendar {
        rules: &r,
        zone: &zone,
    };
    let now = ts("2026-11-23T08:00:00Z");
    assert_eq!(
        cal.check(ts("2026-11-23T07:00:00Z"), 1800, now),
        Err(SlotError::InPast)
    );
    assert_eq!(
        cal.check(ts("2026-11-23T09:00:00Z"), 1800, now),
        Err(SlotError::InsideNotice)
    );
    assert_eq!(cal.check(ts("2026-11-23T10:00:00Z"), 1800, now), Ok(()));
    assert_eq!(
        cal.check(ts("2026-11-23T10:15:00Z"), 1800, now),
        Err(SlotError::OffGrid)
    );
    assert_eq!(
        cal.check(ts("2026-11-23T16:45:00Z"), 1800, now),
        Err(SlotError::OffGrid)
    );
    assert_eq!(
        cal.check(ts("2026-12-10T10:00:00Z"), 1800, now),
        Err(SlotError::BeyondAdvance)
    );
}

#[test]
fn units_cover_the_span_exactly() {
    let u: Vec<i64> = units(600, 1500).collect();
    assert_eq!(u, vec![600, 900, 1200]);
    assert_eq!(units(600, 600).count(), 0);
}

fn arb_interval() -> impl Strategy<Value = WallInterval> {
    (0u16..=287, 1u16..=96).prop_map(|(start, len)| {
        let start = start * 5;
        let end = (start + len * 5).min(1440);
        WallInterval {
            start: WallTime::from_minutes(start).unwrap(),
            end: WallTime::from_minutes(end.max(start + 5)).unwrap(),
        }
    })
}

fn arb_week() -> impl Strategy<Value = Week> {
    proptest::collection::vec(proptest::collection::vec(arb_interval(), 0..4), 7).prop_map(|d| {
        Week {
            mon: d[0].clone(),
            tue: d[1].clone(),
            wed: d[2].clone(),
            thu: d[3].clone(),
            fri: d[4].clone(),
            sat: d[5].clone(),
            sun: d[6].clone(),
        }
    })
}

fn within(w: WallTime, i: &WallInterval) -> bool {
    i.start <= w && w < i.end
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    /// Every offered slot, minute by minute in local wall-clock time, lies inside the working hours
    /// of its date and outside every break; its occupied span (with buffers) misses every busy
    /// unit; and booking it passes the same check the booking path uses.
    #[test]
    fn offered_slots_respect_hours_breaks_and_occupancy(
        zone in 0..ZONES.len(),
        hours in arb_week(),
        breaks in arb_week(),
        slot in 1u16..=12,
        duration in 1i64..=36,
        before in 0u16..=6,
        after in 0u16..=6,
        // Around the northern and southern DST changes of 2026.
        start_day in prop_oneof![60i64..100, 270i64..310],
        busy_seed in proptest::collection::vec(0i64..(10 * 288), 0..40),
    ) {
        let zone = TimeZone::get(ZONES[zone]).unwrap();
        let mut r = rules(hours, breaks);
        r.slot_minutes = slot * 5;
        r.buffer_before_minutes = before * 5;
        r.buffer_after_minutes = after * 5;
        let cal = Calendar { rules: &r, zone: &zone };
        let from = ts("2026-01-01T00:00:00Z") + start_day * 86_400;
        let to = from + 10 * 86_400;
        let now = from - 3600;
        let busy: BTreeSet<i64> = busy_seed.iter().map(|u| from + u * UNIT_SECS).collect();
        let duration = duration * 5 * 60;
        for t in cal.available(duration, from, to, now, &busy) {
            prop_assert!(from <= t && t < to);
            let mut minute = t;
            while minute < t + duration {
                let local = zone.to_datetime(jiff::Timestamp::from_second(minute).unwrap());
                let w = WallTime(local.hour() as u16 * 60 + local.minute() as u16);
                let day = local.date();
                let hours = r.hours.day(day.weekday());
                prop_assert!(hours.iter().any(|i| within(w, i)), "outside hours at {minute}");
                let breaks = r.breaks.day(day.weekday());
                prop_assert!(!breaks.iter().any(|i| within(w, i)), "inside a break at {minute}");
                minute += 60;
            }
            let (a, b) = cal.occupied(t, duration);
            prop_assert!(units(a, b).all(|u| !busy.contains(&u)));
            prop_assert_eq!(cal.check(t, duration, now), Ok(()));
        }
    }

    /// The slots that `available` leaves out for occupancy are exactly those whose span overlaps a
    /// busy unit: with nothing busy, every grid start in range is offered.
    #[test]
    fn free_calendar_offers_the_whole_grid(zone in 0..ZONES.len(), hours in arb_week(), day in 0i64..365) {
        let zone = TimeZone::get(ZONES[zone]).unwrap();
        let r = rules(hours, Week::default());
        let cal = Calendar { rules: &r, zone: &zone };
        let from = ts("2026-01-01T00:00:00Z") + day * 86_400;
        let offered = cal.available(1800, from, from + 3 * 86_400, from - 1, &BTreeSet::new());
        for t in &offered {
            prop_assert_eq!(cal.check(*t, 1800, from - 1), Ok(()));
        }
        let mut grid: Vec<i64> = Vec::new();
        let mut d = cal.date_of(from - 86_400).unwrap();
        while d <= cal.date_of(from + 3 * 86_400).unwrap() {
            grid.extend(cal.starts_on(d, 1800).into_iter().filter(|t| (from..from + 3 * 86_400).contains(t)));
            d = d.tomorrow().unwrap();
        }
        grid.sort_unstable();
        grid.dedup();
        prop_assert_eq!(offered, grid);
    }
}

#[test]
fn working_time_is_the_open_hours_without_the_breaks_on_any_day() {
    let r = rules(
        weekdays(vec![interval("09:00", "17:00")]),
        weekdays(vec![interval("12:00", "13:00"), interval("08:00", "09:30")]),
    );
    for name in ZONES {
        let zone = TimeZone::get(name).unwrap();
        let cal = Calendar {
            rules: &r,
            zone: &zone,
        };
        for day in [date(2026, 3, 8), date(2026, 11, 1), date(2026, 6, 15)] {
            let spans = cal.working(day);
            let total: i64 = spans.iter().map(|(a, b)| b - a).sum();
            // 09:30-12:00 and 13:00-17:00, whatever the zone's offset that day.
            assert_eq!(total, (150 + 240) * 60, "{name} {day}");
            assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0));
        }
    }
}
