//! The table contract: one suite, instantiated per adapter with [`table_contract!`], so the
//! embedded store, moto and DynamoDB Local are held to the same semantics and cannot drift.
//!
//! Each case receives a fresh, empty table.

use std::sync::Arc;

use super::{
    AttrValue, Condition, Consistency, Cursor, Item, Key, Query, SortKey, Table, TableError,
    TransactOp, Update, query_all,
};

/// A fresh table for one case, plus whatever must live as long as it (a temp dir).
pub struct Fixture {
    pub table: Arc<dyn Table>,
    pub guard: Box<dyn std::any::Any + Send + Sync>,
}

/// Instantiates every contract case as a `#[tokio::test]` against `$factory().await: Option<Fixture>`
/// (None: the backend is not running here, and the factory has said so or failed under CI).
#[macro_export]
macro_rules! table_contract {
    ($factory:path) => {
        $crate::table_contract!(@cases $factory;
            put_then_get_round_trips_every_type,
            conditional_put_refuses_existing_item,
            conditional_delete_and_version_check,
            update_sets_removes_and_creates,
            condition_groups_and_less_than,
            query_sort_conditions_and_order,
            pagination_visits_every_item_once,
            gsi_is_sparse_and_follows_updates,
            transaction_is_all_or_nothing,
            transaction_applies_every_kind,
            transaction_shape_is_enforced,
            cursor_cannot_cross_partitions,
            concurrent_conditional_puts_have_one_winner,
            concurrent_transactions_have_one_winner
        );
    };
    (@cases $factory:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture: Option<$crate::store::contract::Fixture> = $factory().await;
                let Some(fixture) = fixture else { return };
                $crate::store::contract::$case(fixture.table.clone()).await;
                drop(fixture);
            }
        )*
    };
}

fn key(pk: &str, sk: &str) -> Key {
    Key::new(pk, sk)
}

fn sks(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i.key.sk.clone()).collect()
}

async fn get(table: &dyn Table, k: &Key) -> Option<Item> {
    table.get(k, Consistency::Strong).await.expect("get")
}

pub async fn put_then_get_round_trips_every_type(table: Arc<dyn Table>) {
    let item = Item::new(key("P#1", "A"))
        .with("s", "text with ünïcode")
        .with("empty", "")
        .with("n", -9_007_199_254_740_993i64)
        .with("b", vec![0u8, 1, 255])
        .with("t", true)
        .with(
            "l",
            AttrValue::L(vec![AttrValue::N(1), AttrValue::S("x".into())]),
        )
        .with(
            "m",
            AttrValue::M([("k".to_owned(), AttrValue::Null)].into_iter().collect()),
        );
    table.put(item.clone(), None).await.expect("put");
    assert_eq!(get(&*table, &item.key).await, Some(item.clone()));
    assert_eq!(
        table
            .get(&item.key, Consistency::Eventual)
            .await
            .expect("get")
            .map(|i| i.key),
        Some(item.key.clone())
    );
    assert_eq!(get(&*table, &key("P#1", "missing")).await, None);
    // An unconditional put replaces the whole item.
    let replaced = Item::new(key("P#1", "A")).with("only", 1);
    table.put(replaced.clone(), None).await.expect("put");
    assert_eq!(get(&*table, &item.key).await, Some(replaced));
}

pub async fn conditional_put_refuses_existing_item(table: Arc<dyn Table>) {
    let first = Item::new(key("LOCK", "1")).with("owner", "a");
    table
        .put(first.clone(), Some(Condition::ItemAbsent))
        .await
        .expect("first put");
    let second = Item::new(key("LOCK", "1")).with("owner", "b");
    let err = table
        .put(second, Some(Condition::ItemAbsent))
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::ConditionFailed), "{err:?}");
    assert_eq!(get(&*table, &first.key).await, Some(first.clone()));
    let err = table
        .put(Item::new(key("LOCK", "2")), Some(Condition::ItemExists))
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::ConditionFailed), "{err:?}");
    assert_eq!(get(&*table, &key("LOCK", "2")).await, None);
}

pub async fn conditional_delete_and_version_check(table: Arc<dyn Table>) {
    let k = key("DOC", "1");
    table
        .put(Item::new(k.clone()).with("version", 3), None)
        .await
        .expect("put");
    let err = table
        .delete(&k, Some(Condition::version_is(2)))
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::ConditionFailed), "{err:?}");
    assert!(get(&*table, &k).await.is_some());
    table
        .delete(&k, Some(Condition::version_is(3)))
        .await
        .expect("delete");
    assert_eq!(get(&*table, &k).await, None);
    // Deleting an absent item without a condition succeeds; with ItemExists it fails.
    table.delete(&k, None).await.expect("idempotent delete");
    let err = table
        .delete(&k, Some(Condition::ItemExists))
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::ConditionFailed), "{err:?}");
}

pub async fn update_sets_removes_and_creates(table: Arc<dyn Table>) {
    let k = key("U", "1");
    let created = table
        .update(
            &k,
            Update::default().set("a", 1).set("version", 1),
            Some(Condition::ItemAbsent),
        )
        .await
        .expect("create by update");
    assert_eq!(
        created,
        Item::new(k.clone()).with("a", 1).with("version", 1)
    );
    let updated = table
        .update(
            &k,
            Update::default()
                .set("b", "x")
                .set("version", 2)
                .remove("a"),
            Some(Condition::version_is(1)),
        )
        .await
        .expect("update");
    assert_eq!(
        updated,
        Item::new(k.clone()).with("b", "x").with("version", 2)
    );
    let err = table
        .update(
            &k,
            Update::default().set("b", "y"),
            Some(Condition::version_is(1)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::ConditionFailed), "{err:?}");
    assert_eq!(get(&*table, &k).await, Some(updated));
    let err = table
        .update(&k, Update::default().set("pk", "other"), None)
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::Invalid(_)), "{err:?}");
    // Counters: an absent attribute (and item) starts at zero; each add lands.
    let c = key("U", "counter");
    for expected in [3, 5] {
        let item = table
            .update(
                &c,
                Update::default().add("count", if expected == 3 { 3 } else { 2 }),
                None,
            )
            .await
            .expect("add");
        assert_eq!(item.get("count"), Some(&AttrValue::N(expected)));
    }
    assert_eq!(
        get(&*table, &c).await.and_then(|i| i.get("count").cloned()),
        Some(AttrValue::N(5))
    );
}

pub async fn condition_groups_and_less_than(table: Arc<dyn Table>) {
    // The slot-lock pattern: take the lock if absent or if the holder's hold has expired.
    let k = key("SLOT", "09:00");
    let take = |owner: &str, now: i64| {
        (
            Item::new(k.clone())
                .with("owner", owner)
                .with("expires_at", now + 300),
            Some(Condition::Or(vec![
                Condition::ItemAbsent,
                Condition::LessThan("expires_at".into(), AttrValue::N(now)),
            ])),
        )
    };
    let (item, cond) = take("a", 1_000);
    table.put(item, cond).await.expect("free slot");
    let (item, cond) = take("b", 1_100);
    assert!(matches!(
        table.put(item, cond).await,
        Err(TableError::ConditionFailed)
    ));
    let (item, cond) = take("c", 1_400);
    table
        .put(item, cond)
        .await
        .expect("expired hold is taken over");
    assert_eq!(
        get(&*table, &k).await.and_then(|i| i.get("owner").cloned()),
        Some(AttrValue::S("c".into()))
    );
    let both = Condition::And(vec![
        Condition::AttrExists("owner".into()),
        Condition::Equals("owner".into(), AttrValue::S("c".into())),
        Condition::AttrAbsent("nothing".into()),
    ]);
    table
        .delete(&k, Some(both))
        .await
        .expect("and-condition holds");
    let err = table
        .put(Item::new(k.clone()), Some(Condition::And(vec![])))
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::Invalid(_)), "{err:?}");
}

async fn seed_partition(table: &dyn Table, pk: &str, sort_keys: &[&str]) {
    for sk in sort_keys {
        table
            .put(Item::new(key(pk, sk)).with("v", *sk), None)
            .await
            .expect("seed");
    }
}

pub async fn query_sort_conditions_and_order(table: Arc<dyn Table>) {
    let all = ["2026-03-01", "2026-03-02", "2026-03-10", "2026-04-01", "X"];
    seed_partition(&*table, "CAL", &all).await;
    seed_partition(&*table, "CAL2", &["2026-03-05"]).await;
    seed_partition(&*table, "CA", &["2026-03-05"]).await;
    let run = |sort: SortKey, forward: bool| {
        let table = table.clone();
        async move {
            let mut q = Query::partition("CAL").sort(sort).consistent();
            q.forward = forward;
            sks(&query_all(&*table, &q).await.expect("query"))
        }
    };
    assert_eq!(run(SortKey::Any, true).await, all);
    let mut reversed = all.to_vec();
    reversed.reverse();
    assert_eq!(run(SortKey::Any, false).await, reversed);
    assert_eq!(
        run(SortKey::BeginsWith("2026-03".into()), true).await,
        all[..3]
    );
    assert_eq!(
        run(
            SortKey::Between("2026-03-02".into(), "2026-04-01".into()),
            true
        )
        .await,
        all[1..4]
    );
    assert_eq!(
        run(SortKey::Eq("2026-03-10".into()), true).await,
        ["2026-03-10"]
    );
    assert_eq!(run(SortKey::Lt("2026-03-10".into()), true).await, all[..2]);
    assert_eq!(run(SortKey::Le("2026-03-10".into()), true).await, all[..3]);
    assert_eq!(run(SortKey::Gt("2026-03-10".into()), true).await, all[3..]);
    assert_eq!(
        run(SortKey::Ge("2026-03-10".into()), false).await,
        ["X", "2026-04-01", "2026-03-10"]
    );
    assert!(
        run(SortKey::BeginsWith("2027".into()), true)
            .await
            .is_empty()
    );
}

pub async fn pagination_visits_every_item_once(table: Arc<dyn Table>) {
    let all: Vec<String> = (0..7).map(|i| format!("E#{i:02}")).collect();
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    seed_partition(&*table, "LOG", &refs).await;
    for (limit, forward) in [(1, true), (2, true), (3, false), (7, true), (8, false)] {
        let mut q = Query::partition("LOG").limit(limit).consistent();
        q.forward = forward;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = table.query(&q).await.expect("page");
            pages += 1;
            assert!(page.items.len() <= limit as usize);
            seen.extend(sks(&page.items));
            // The cursor travels as an opaque string, as it does through the API.
            match page.next {
                Some(next) => q.cursor = Some(Cursor::decode(&next.encode()).expect("cursor")),
                None => break,
            }
            assert!(pages <= 10, "pagination does not terminate");
        }
        let mut expected = all.clone();
        if !forward {
            expected.reverse();
        }
        assert_eq!(seen, expected, "limit {limit}, forward {forward}");
    }
}

pub async fn gsi_is_sparse_and_follows_updates(table: Arc<dyn Table>) {
    let with_gsi = |sk: &str, gpk: &str, gsk: &str| {
        Item::new(key("PAT", sk))
            .with("gsi1pk", gpk)
            .with("gsi1sk", gsk)
    };
    table
        .put(with_gsi("1", "EMAIL#h1", "PAT#1"), None)
        .await
        .expect("put");
    table
        .put(with_gsi("2", "EMAIL#h2", "PAT#2"), None)
        .await
        .expect("put");
    table
        .put(with_gsi("3", "EMAIL#h1", "PAT#3"), None)
        .await
        .expect("put");
    table
        .put(Item::new(key("PAT", "4")).with("gsi1pk", "EMAIL#h1"), None)
        .await
        .expect("sparse");
    let gsi = |partition: &str| {
        let table = table.clone();
        let partition = partition.to_owned();
        async move {
            let items = query_all(&*table, &Query::gsi1(partition).limit(1))
                .await
                .expect("gsi query");
            sks(&items)
        }
    };
    assert_eq!(gsi("EMAIL#h1").await, ["1", "3"]);
    let backward = table
        .query(&Query::gsi1("EMAIL#h1").backward())
        .await
        .expect("gsi");
    assert_eq!(sks(&backward.items), ["3", "1"]);
    // Moving an item's index key moves it in the index; deleting removes it.
    table
        .update(
            &key("PAT", "1"),
            Update::default().set("gsi1pk", "EMAIL#h2"),
            None,
        )
        .await
        .expect("move");
    table.delete(&key("PAT", "3"), None).await.expect("delete");
    assert!(gsi("EMAIL#h1").await.is_empty());
    assert_eq!(gsi("EMAIL#h2").await, ["1", "2"]);
    let err = table
        .query(&Query::gsi1("EMAIL#h2").consistent())
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::Invalid(_)), "{err:?}");
}

pub async fn transaction_is_all_or_nothing(table: Arc<dyn Table>) {
    table
        .put(Item::new(key("SLOT", "10:00")), None)
        .await
        .expect("taken slot");
    let ops = vec![
        TransactOp::Put {
            item: Item::new(key("SLOT", "09:30")),
            condition: Some(Condition::ItemAbsent),
        },
        TransactOp::Put {
            item: Item::new(key("SLOT", "10:00")).with("x", 1),
            condition: Some(Condition::ItemAbsent),
        },
        TransactOp::Put {
            item: Item::new(key("APPT", "1")),
            condition: Some(Condition::ItemAbsent),
        },
    ];
    let err = table.transact_write(ops).await.unwrap_err();
    match err {
        TableError::TransactionConditionFailed { failed } => assert_eq!(failed, vec![1]),
        other => panic!("expected a cancelled transaction, got {other:?}"),
    }
    assert_eq!(get(&*table, &key("SLOT", "09:30")).await, None);
    assert_eq!(get(&*table, &key("APPT", "1")).await, None);
    assert_eq!(
        get(&*table, &key("SLOT", "10:00")).await,
        Some(Item::new(key("SLOT", "10:00")))
    );
}

pub async fn transaction_applies_every_kind(table: Arc<dyn Table>) {
    table
        .put(Item::new(key("OLD", "lock")).with("owner", "a"), None)
        .await
        .expect("put");
    table
        .put(
            Item::new(key("APPT", "1"))
                .with("version", 1)
                .with("start", "09:00"),
            None,
        )
        .await
        .expect("put");
    table
        .put(Item::new(key("PRACTICE", "p")).with("open", true), None)
        .await
        .expect("put");
    let ops = vec![
        TransactOp::Check {
            key: key("PRACTICE", "p"),
            condition: Condition::Equals("open".into(), AttrValue::Bool(true)),
        },
        TransactOp::Delete {
            key: key("OLD", "lock"),
            condition: Some(Condition::Equals("owner".into(), "a".into())),
        },
        TransactOp::Put {
            item: Item::new(key("NEW", "lock")).with("owner", "a"),
            condition: Some(Condition::ItemAbsent),
        },
        TransactOp::Update {
            key: key("APPT", "1"),
            update: Update::default().set("start", "10:00").set("version", 2),
            condition: Some(Condition::version_is(1)),
        },
    ];
    table.transact_write(ops).await.expect("transaction");
    assert_eq!(get(&*table, &key("OLD", "lock")).await, None);
    assert!(get(&*table, &key("NEW", "lock")).await.is_some());
    assert_eq!(
        get(&*table, &key("APPT", "1")).await,
        Some(
            Item::new(key("APPT", "1"))
                .with("version", 2)
                .with("start", "10:00")
        )
    );
    // A failing check cancels the writes beside it.
    let ops = vec![
        TransactOp::Check {
            key: key("PRACTICE", "p"),
            condition: Condition::Equals("open".into(), AttrValue::Bool(false)),
        },
        TransactOp::Put {
            item: Item::new(key("NEW", "other")),
            condition: None,
        },
    ];
    assert!(matches!(
        table.transact_write(ops).await,
        Err(TableError::TransactionConditionFailed { failed }) if failed == vec![0]
    ));
    assert_eq!(get(&*table, &key("NEW", "other")).await, None);
}

pub async fn transaction_shape_is_enforced(table: Arc<dyn Table>) {
    let put = |sk: String| TransactOp::Put {
        item: Item::new(key("BULK", &sk)),
        condition: Some(Condition::ItemAbsent),
    };
    let twice = vec![put("a".into()), put("a".into())];
    assert!(matches!(
        table.transact_write(twice).await,
        Err(TableError::Invalid(_))
    ));
    let too_many: Vec<_> = (0..101).map(|i| put(format!("{i:03}"))).collect();
    assert!(matches!(
        table.transact_write(too_many).await,
        Err(TableError::Invalid(_))
    ));
    assert!(
        query_all(&*table, &Query::partition("BULK").consistent())
            .await
            .expect("q")
            .is_empty()
    );
    let hundred: Vec<_> = (0..100).map(|i| put(format!("{i:03}"))).collect();
    table.transact_write(hundred).await.expect("100 items");
    assert_eq!(
        query_all(&*table, &Query::partition("BULK").consistent())
            .await
            .expect("q")
            .len(),
        100
    );
}

pub async fn cursor_cannot_cross_partitions(table: Arc<dyn Table>) {
    seed_partition(&*table, "MINE", &["1", "2"]).await;
    seed_partition(&*table, "THEIRS", &["1", "2"]).await;
    let page = table
        .query(&Query::partition("THEIRS").limit(1).consistent())
        .await
        .expect("q");
    let foreign = page.next.expect("cursor");
    let err = table
        .query(&Query::partition("MINE").after(Some(foreign)).consistent())
        .await
        .unwrap_err();
    assert!(matches!(err, TableError::Invalid(_)), "{err:?}");
}

pub async fn concurrent_conditional_puts_have_one_winner(table: Arc<dyn Table>) {
    let mut tasks = Vec::new();
    for i in 0..50 {
        let table = table.clone();
        tasks.push(tokio::spawn(async move {
            let item = Item::new(key("RACE", "slot")).with("owner", i);
            table.put(item, Some(Condition::ItemAbsent)).await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => wins += 1,
            Err(TableError::ConditionFailed) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(wins, 1);
}

pub async fn concurrent_transactions_have_one_winner(table: Arc<dyn Table>) {
    let mut tasks = Vec::new();
    for i in 0..20 {
        let table = table.clone();
        tasks.push(tokio::spawn(async move {
            let ops = vec![
                TransactOp::Put {
                    item: Item::new(key("RACE", "lock")).with("owner", i),
                    condition: Some(Condition::ItemAbsent),
                },
                TransactOp::Put {
                    item: Item::new(key("RACE", &format!("appt#{i:02}"))),
                    condition: Some(Condition::ItemAbsent),
                },
            ];
            (i, table.transact_write(ops).await)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            (i, Ok(())) => winners.push(i),
            (
                _,
                Err(
                    TableError::TransactionConditionFailed { .. } | TableError::TransactionConflict,
                ),
            ) => {}
            (_, Err(other)) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let written = query_all(&*table, &Query::partition("RACE").consistent())
        .await
        .expect("q");
    assert_eq!(
        sks(&written),
        [format!("appt#{:02}", winners[0]), "lock".to_owned()]
    );
}
