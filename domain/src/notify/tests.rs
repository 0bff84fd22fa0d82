use super::*;

fn fields<'a>(first_name: &'a str, practice: &'a str) -> Fields<'a> {
    Fields {
        first_name,
        practice,
        when: "Tue 3 Nov 2026, 14:30 EST",
        expires: "Tue 3 Nov 2026, 10:30 EST",
        link: "https://portal.example/",
        policy: "",
        visit: "",
    }
}

const HOSTILE: [&str; 6] = [
    "<script>alert(1)</script>",
    "Ann\r\nBcc: everyone@example.com",
    "\"><img src=x onerror=alert(1)>&amp;",
    "מרים\u{202e}evil\u{202c} כהן",
    "Ann\u{0}\u{7}\u{1b}[31m",
    "Maximiliana-Wilhelmina-Theodora-Konstantina-Alexandrina von und zu Hohenzollern-Sigmaringen",
];

#[test]
fn the_shipped_templates_load_and_every_kind_renders_on_both_channels() {
    let t = Templates::builtin();
    assert_eq!(t.version, "v1");
    for kind in Kind::ALL {
        let email = t.render(kind, Channel::Email, &fields("Ann", "Harbor Clinic"));
        let subject = email.subject.expect("subject");
        assert!(subject.contains("Harbor Clinic"), "{subject}");
        assert!(email.text.contains("\u{2068}Ann\u{2069}"), "{}", email.text);
        assert!(
            email
                .text
                .contains("never ask for your card number or password")
        );
        assert!(email.text.contains("https://portal.example/"));
        let html = email.html.expect("html");
        assert!(html.contains("<bdi>Ann</bdi>"), "{html}");
        let sms = t.render(kind, Channel::Sms, &fields("Ann", "Harbor Clinic"));
        assert!(sms.text.ends_with(SMS_FOOTER), "{}", sms.text);
        assert!(sms.text.chars().count() <= SMS_MAX);
        assert_eq!(Kind::parse(kind.code()), Some(kind));
    }
}

#[test]
fn hostile_names_are_escaped_isolated_kept_on_one_line_and_short() {
    let t = Templates::builtin();
    for name in HOSTILE {
        for practice in ["Harbor Clinic", name] {
            for kind in Kind::ALL {
                let email = t.render(kind, Channel::Email, &fields(name, practice));
                let subject = email.subject.unwrap();
                assert!(
                    !subject.contains('\n') && !subject.contains('\r'),
                    "{subject:?}"
                );
                assert!(!subject.chars().any(char::is_control), "{subject:?}");
                let html = email.html.unwrap();
                assert!(
                    !html.contains("<script>") && !html.contains("<img"),
                    "{html}"
                );
                for text in [&subject, &email.text, &html] {
                    assert!(
                        !text.contains('\u{202e}') && !text.contains('\u{0}'),
                        "{text:?}"
                    );
                    assert!(!text.contains('\u{1b}'), "{text:?}");
                }
                // The body's lines come from the template only: a name cannot add one.
                assert!(!email.text.contains("\nBcc:"), "{}", email.text);
                let sms = t.render(kind, Channel::Sms, &fields(name, practice));
                let n = sms.text.chars().count();
                assert!(n <= SMS_MAX, "{kind:?} {n}: {}", sms.text);
                assert!(sms.text.ends_with(SMS_FOOTER));
                assert!(!sms.text.contains('\n'));
            }
        }
    }
}

#[test]
fn a_right_to_left_name_is_isolated_so_the_sentence_keeps_its_order() {
    let t = Templates::builtin();
    let sms = t.render(
        Kind::Reminder,
        Channel::Sms,
        &fields("מרים", "Harbor Clinic"),
    );
    assert!(sms.text.contains("\u{2068}מרים\u{2069}"), "{}", sms.text);
}

#[test]
fn an_edited_template_is_checked_before_use() {
    let ok = Templates::from_texts(
        "2026-11-practice",
        [(
            Kind::Reminder,
            Channel::Sms,
            "See you {when}, {first_name}. {link}".to_string(),
        )],
    )
    .expect("valid");
    let sms = ok.render(Kind::Reminder, Channel::Sms, &fields("Ann", "X"));
    assert!(sms.text.starts_with("See you Tue 3 Nov"), "{}", sms.text);
    let unknown = Templates::from_texts(
        "x",
        [(Kind::Receipt, Channel::Sms, "You owe {amount}".to_string())],
    );
    assert!(unknown.unwrap_err().problem.contains("{amount}"));
    let long = Templates::from_texts(
        "x",
        [(Kind::Receipt, Channel::Sms, "x".repeat(120) + " {link}")],
    );
    assert!(long.unwrap_err().problem.contains("over 160"));
    let no_subject = Templates::from_texts(
        "x",
        [(
            Kind::Receipt,
            Channel::Email,
            "Hello {first_name}".to_string(),
        )],
    );
    assert!(no_subject.unwrap_err().problem.contains("Subject"));
}

#[test]
fn consent_decides_the_channels() {
    let default = Preferences::default();
    assert_eq!(default.channels(true), vec![Channel::Email]);
    assert!(
        default.channels(false).is_empty(),
        "an unverified address gets nothing by default"
    );
    let sms_without_consent = Preferences {
        sms: true,
        ..Preferences::default()
    };
    assert_eq!(sms_without_consent.channels(true), vec![Channel::Email]);
    let both = Preferences {
        sms: true,
        sms_consent_at: Some(1),
        ..Preferences::default()
    };
    assert_eq!(both.channels(true), vec![Channel::Email, Channel::Sms]);
    let stopped = Preferences {
        sms_stopped_at: Some(2),
        email_bounced_at: Some(3),
        ..both
    };
    assert!(stopped.channels(true).is_empty());
}

#[test]
fn quiet_hours_wrap_midnight() {
    let s = Settings::default();
    assert!(
        s.quiet_at(21 * 60) && s.quiet_at(23 * 60 + 59) && s.quiet_at(0) && s.quiet_at(7 * 60 + 59)
    );
    assert!(!s.quiet_at(8 * 60) && !s.quiet_at(20 * 60 + 59));
    assert_eq!(s.quiet_left(22 * 60), 10 * 60);
    assert_eq!(s.quiet_left(12 * 60), 0);
    let bad = Settings {
        quiet_from: "25:00".into(),
        ..Settings::default()
    };
    assert!(bad.validate().is_err());
    assert!(Settings::default().validate().is_ok());
    let javascript = Settings {
        portal_url: "javascript:alert(1)".into(),
        ..Settings::default()
    };
    assert!(javascript.validate().is_err());
}

#[test]
fn the_confirmation_email_carries_the_policy_and_no_empty_line_without_one() {
    let t = Templates::builtin();
    let policy = "Cancelling less than 24 hours before the visit costs a fee of 50.00 USD.";
    for kind in [Kind::Confirmation, Kind::ConfirmationForms] {
        let with = t.render(
            kind,
            Channel::Email,
            &Fields {
                policy,
                ..fields("Ann", "Harbor Clinic")
            },
        );
        assert!(
            with.text.contains(&format!("\n{policy}\n")),
            "{}",
            with.text
        );
        assert!(with.html.unwrap().contains(policy));
        let without = t.render(kind, Channel::Email, &fields("Ann", "Harbor Clinic"));
        assert!(
            !without.text.contains("\n\nSee or change"),
            "{}",
            without.text
        );
    }
    let sms = [(
        Kind::Confirmation,
        Channel::Sms,
        "{policy} {link}".to_string(),
    )];
    let refused = Templates::from_texts("v2", sms).unwrap_err();
    assert!(refused.problem.contains("email only"), "{refused}");
}
