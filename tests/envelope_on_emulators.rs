//! Envelope encryption against the real wire protocols: KMS on moto, items on moto's DynamoDB.

use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use domain::clock::SystemClock;
use practica_tests::{Emulator, create_table, sdk_config, unique_table_name};
use shared::adapters::dynamodb::DynamoTable;
use shared::adapters::kms::KmsKeys;
use shared::crypto::testing::CountingKeys;
use shared::crypto::{CachePolicy, CryptoError, EncryptionContext, KeyError, KeyService, Sealer};
use shared::store::{AttrValue, Consistency, Item, Key, Table};

struct Moto {
    sdk: aws_config::SdkConfig,
    keys: KmsKeys,
}

async fn moto() -> Option<Moto> {
    let endpoint = Emulator::Moto.endpoint()?;
    let sdk = sdk_config(&endpoint);
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key = kms
        .create_key()
        .description("practica test")
        .send()
        .await
        .expect("create key");
    let key_id = key.key_metadata().expect("metadata").key_id().to_owned();
    Some(Moto {
        keys: KmsKeys::new(kms, key_id),
        sdk,
    })
}

#[tokio::test]
async fn kms_wraps_under_the_encryption_context() {
    let Some(moto) = moto().await else { return };
    let ctx = EncryptionContext::new(&[("app", "practica"), ("table", "t1"), ("purpose", "field")]);
    let dk = moto
        .keys
        .generate_data_key(&ctx)
        .await
        .expect("GenerateDataKey");
    assert_eq!(
        *moto
            .keys
            .decrypt_data_key(&dk.wrapped, &ctx)
            .await
            .expect("Decrypt"),
        *dk.plaintext
    );
    let other =
        EncryptionContext::new(&[("app", "practica"), ("table", "t2"), ("purpose", "field")]);
    assert!(matches!(
        moto.keys.decrypt_data_key(&dk.wrapped, &other).await,
        Err(KeyError::InvalidCiphertext)
    ));
    let mut tampered = dk.wrapped.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(moto.keys.decrypt_data_key(&tampered, &ctx).await.is_err());
}

#[tokio::test]
async fn a_missing_kms_key_fails_closed() {
    let Some(moto) = moto().await else { return };
    let missing = KmsKeys::new(
        aws_sdk_kms::Client::new(&moto.sdk),
        "7f0c1c1e-0000-4000-8000-000000000000",
    );
    let sealer = Sealer::new(
        Arc::new(missing),
        Arc::new(SystemClock),
        "t",
        CachePolicy::default(),
    );
    let err = sealer
        .seal(&Key::new("PAT#1", "PROFILE"), "name", b"Jane")
        .await
        .unwrap_err();
    assert!(
        matches!(err, CryptoError::KeyServiceUnavailable(_)),
        "{err:?}"
    );
}

const PLAINTEXTS: [(&str, &str); 4] = [
    ("name", "Jane Q. Patient"),
    ("email", "jane.patient@example.com"),
    ("phone", "+1-212-555-0199"),
    ("dob", "1980-02-29"),
];

#[tokio::test]
async fn sealed_items_hold_no_plaintext_and_cannot_be_swapped() {
    let Some(moto) = moto().await else { return };
    let ddb = aws_sdk_dynamodb::Client::new(&moto.sdk);
    let name = unique_table_name();
    create_table(&ddb, &name).await;
    let table = DynamoTable::new(ddb.clone(), name.clone());
    let keys = Arc::new(CountingKeys::new(moto.keys));
    let sealer = Sealer::new(
        keys.clone(),
        Arc::new(SystemClock),
        name.clone(),
        CachePolicy::default(),
    );

    for i in 0..1_000 {
        let key = Key::new(format!("PAT#{i}"), "PROFILE");
        let mut item = Item::new(key.clone()).with("status", "active");
        for (attr, value) in PLAINTEXTS {
            item.set(
                attr,
                sealer.seal_str(&key, attr, value).await.expect("seal"),
            );
        }
        table.put(item, None).await.expect("put");
    }
    assert!(
        keys.generated() <= 1,
        "1,000 sealed writes called GenerateDataKey {} times",
        keys.generated()
    );

    // Straight from the table, bypassing the port: no attribute holds any plaintext.
    let raw = ddb
        .get_item()
        .table_name(&name)
        .key("pk", AttributeValue::S("PAT#7".into()))
        .key("sk", AttributeValue::S("PROFILE".into()))
        .send()
        .await
        .expect("raw get")
        .item
        .expect("item");
    let dump = format!("{raw:?}");
    for (_, value) in PLAINTEXTS {
        assert!(
            !dump.contains(value),
            "plaintext {value:?} found in the raw item"
        );
        for attr in raw.values() {
            if let AttributeValue::B(b) = attr {
                assert!(
                    !b.as_ref()
                        .windows(value.len())
                        .any(|w| w == value.as_bytes())
                );
            }
        }
    }

    // Through the port, the owner opens each field.
    let key7 = Key::new("PAT#7", "PROFILE");
    let item = table
        .get(&key7, Consistency::Strong)
        .await
        .expect("get")
        .expect("item");
    for (attr, value) in PLAINTEXTS {
        let sealed = item
            .get(attr)
            .and_then(AttrValue::as_b)
            .expect("sealed attribute");
        assert_eq!(
            sealer
                .open_str(&key7, attr, sealed)
                .await
                .expect("open")
                .expose(),
            value
        );
    }

    // Copy patient 7's email into patient 8's item: it no longer opens there.
    let key8 = Key::new("PAT#8", "PROFILE");
    let sealed7 = item
        .get("email")
        .and_then(AttrValue::as_b)
        .expect("email")
        .to_vec();
    ddb.update_item()
        .table_name(&name)
        .key("pk", AttributeValue::S("PAT#8".into()))
        .key("sk", AttributeValue::S("PROFILE".into()))
        .update_expression("SET email = :e")
        .expression_attribute_values(":e", AttributeValue::B(sealed7.clone().into()))
        .send()
        .await
        .expect("raw swap");
    assert!(matches!(
        sealer.open(&key8, "email", &sealed7).await,
        Err(CryptoError::Integrity)
    ));
    // ... nor under another attribute of the same item.
    assert!(matches!(
        sealer.open(&key7, "phone", &sealed7).await,
        Err(CryptoError::Integrity)
    ));
}
