use super::*;
use proptest::prelude::*;

#[test]
fn cursor_round_trips_and_rejects_garbage() {
    let c = Cursor {
        key: Key::new("P#1", "S#2"),
        index_key: Some(("g".into(), "h".into())),
    };
    assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
    assert!(matches!(Cursor::decode("!!!"), Err(TableError::Invalid(_))));
    let encoded = c.encode();
    let truncated = &encoded[..encoded.len() - 4];
    assert!(matches!(
        Cursor::decode(truncated),
        Err(TableError::Invalid(_))
    ));
}

#[test]
fn transaction_shape_rules() {
    let put = |sk: &str| TransactOp::Put {
        item: Item::new(Key::new("p", sk)),
        condition: None,
    };
    assert!(validate_transaction(&[]).is_err());
    assert!(validate_transaction(&[put("a"), put("a")]).is_err());
    let many: Vec<_> = (0..101).map(|i| put(&i.to_string())).collect();
    assert!(validate_transaction(&many).is_err());
    assert!(validate_transaction(&many[..100]).is_ok());
}

proptest! {
    #[test]
    fn between_is_ge_and_le(a in "[a-c]{0,3}", b in "[a-c]{0,3}", s in "[a-c]{0,3}") {
        let between = SortKey::Between(a.clone(), b.clone()).matches(&s);
        prop_assert_eq!(between, SortKey::Ge(a).matches(&s) && SortKey::Le(b).matches(&s));
    }

    #[test]
    fn or_and_of_conditions(n in 0i64..10, m in 0i64..10) {
        let item = Item::new(Key::new("p", "s")).with("v", n);
        let lt = Condition::LessThan("v".into(), AttrValue::N(m));
        prop_assert_eq!(lt.holds(Some(&item)), n < m);
        let either = Condition::Or(vec![Condition::ItemAbsent, lt.clone()]);
        prop_assert_eq!(either.holds(Some(&item)), n < m);
        prop_assert!(either.holds(None));
        prop_assert!(!Condition::And(vec![Condition::ItemExists, lt]).holds(None));
    }
}
