//! The increments one block yields, from blocks the test world builds with
//! chosen times; and the query words, checked.

use super::*;
use crate::model::Role;
use crate::testkit::{code, World, START_TIME};
use crate::tx::Body;
use crate::units::{day_of, SECONDS_PER_DAY};

/// 2026-02-10 and 2026-05-05, UTC: the first and second quarters.
const Q1: u64 = START_TIME + 40 * SECONDS_PER_DAY;
const Q2: u64 = START_TIME + 124 * SECONDS_PER_DAY;

fn key(
    participant: &str,
    quarter: u8,
    flow: Flow,
    partner: Option<&str>,
    hs: Option<HsCode>,
) -> StatsKey {
    StatsKey {
        year: 2026,
        participant: code(participant),
        quarter,
        flow,
        partner: partner.map(code),
        hs,
    }
}

fn register(origin: &str, milli_carats: u64, value_cents: u64, hs_code: HsCode) -> Body {
    Body::RegisterParcel {
        origin: code(origin),
        zone: None,
        mine: "Jwaneng".into(),
        milli_carats,
        stones: 3,
        value_cents,
        hs_code,
    }
}

/// Commits `txs` (each must pass) at `time`; the block's increments.
fn block(
    world: &mut World,
    time: u64,
    txs: Vec<crate::tx::DecodedTx>,
) -> BTreeMap<StatsKey, Tally> {
    world.time = time;
    let (applied, rejected) = world.commit_block(txs);
    assert!(rejected.is_empty(), "{rejected:?}");
    block_increments(applied.block.header.height, time, &applied.delta).expect("increments")
}

#[test]
fn registrations_count_as_production_and_splits_do_not() {
    let mut world = World::new();
    let miner = world.enrol("BW", "miner", Role::Miner, None);
    let tx = world.sign(&miner, register("BW", 1_500, 2_001, HsCode::UNSORTED));
    let parcel = crate::rules::parcel_id(&tx.id, 0);
    let increments = block(&mut world, Q1, vec![tx]);
    assert_eq!(
        increments.into_iter().collect::<Vec<_>>(),
        [(
            key("BW", 1, Flow::Production, None, Some(HsCode::UNSORTED)),
            Tally {
                milli_carats: 1_500,
                value_cents: 2_001,
                parcels: 1,
                ..Tally::default()
            }
        )]
    );
    let split = world.sign(
        &miner,
        Body::SplitParcel {
            parcel,
            outputs: vec![
                crate::tx::SplitOutput {
                    milli_carats: 1_000,
                    hs_code: None,
                },
                crate::tx::SplitOutput {
                    milli_carats: 500,
                    hs_code: None,
                },
            ],
        },
    );
    assert!(block(&mut world, Q1, vec![split]).is_empty());
}

#[test]
fn a_certificate_counts_as_export_when_issued_and_import_when_received() {
    let mut world = World::new();
    let miner = world.enrol("BW", "miner", Role::Miner, None);
    let exporter = world.enrol("BW", "exporter", Role::Exporter, None);
    let importer = world.enrol("EU", "importer", Role::Importer, None);
    let a = world.register(&miner, "BW", 1_000);
    let b = world.register(&miner, "BW", 2_000);
    world.hand_over(&miner, a, &exporter);
    world.hand_over(&miner, b, &exporter);
    let issue = Body::IssueCertificate {
        number: "BW-1".into(),
        exporter,
        importer,
        destination: code("EU"),
        parcels: vec![a, b],
        hs_codes: vec![HsCode::UNSORTED],
        expires_on: day_of(Q2) + 30,
        // Declared above the parcels' recorded US$ 420: both sides count it.
        value_cents: Some(60_000),
    };
    let authority = world.authority("BW");
    let tx = world.sign(&authority, issue);
    let issued = block(&mut world, Q1, vec![tx]);
    let exported = Tally {
        milli_carats: 3_000,
        value_cents: 60_000,
        parcels: 2,
        ..Tally::default()
    };
    let issued_one = Tally {
        certificates: 1,
        ..Tally::default()
    };
    assert_eq!(
        issued.into_iter().collect::<Vec<_>>(),
        [
            (key("BW", 1, Flow::Exports, Some("EU"), None), issued_one),
            (
                key("BW", 1, Flow::Exports, Some("EU"), Some(HsCode::UNSORTED)),
                exported
            ),
        ]
    );
    let receive = Body::ReceiveCertificate {
        number: "BW-1".into(),
        milli_carats: 2_999,
        parcel_count: 2,
    };
    let eu = world.authority("EU");
    let tx = world.sign(&eu, receive);
    let received = block(&mut world, Q2, vec![tx]);
    assert_eq!(
        received.into_iter().collect::<Vec<_>>(),
        [
            (
                key("EU", 2, Flow::Imports, Some("BW"), None),
                Tally {
                    certificates: 1,
                    received_milli_carats: 2_999,
                    ..Tally::default()
                }
            ),
            (
                key("EU", 2, Flow::Imports, Some("BW"), Some(HsCode::UNSORTED)),
                exported
            ),
        ]
    );
}

#[test]
fn query_words_are_checked() {
    let year = |y, q, h| Period::parse(y, q, h);
    assert_eq!(
        year(Some("2026"), None, None),
        Ok(Period {
            year: 2026,
            scope: Scope::Year
        })
    );
    assert_eq!(
        year(Some("2026"), Some("3"), None).map(|p| p.scope),
        Ok(Scope::Quarter(3))
    );
    assert_eq!(
        year(Some("2026"), None, Some("2")).map(|p| p.scope),
        Ok(Scope::Half(2))
    );
    for (y, q, h, code) in [
        (None, None, None, "bad_year"),
        (Some("20x6"), None, None, "bad_year"),
        (Some("1969"), None, None, "bad_year"),
        (Some("2026"), Some("5"), None, "bad_period"),
        (Some("2026"), Some("0"), None, "bad_period"),
        (Some("2026"), None, Some("3"), "bad_period"),
        (Some("2026"), Some("1"), Some("1"), "bad_period"),
    ] {
        assert_eq!(
            year(y, q, h).map_err(|e| e.code()),
            Err(code),
            "{y:?} {q:?} {h:?}"
        );
    }
}

#[test]
fn usd_per_carat_rounds_half_up_to_the_cent() {
    assert_eq!(usd_per_carat_cents(100, 0), None);
    // US$ 1.00 for 3 ct: 33.33... cents per carat.
    assert_eq!(usd_per_carat_cents(100, 3_000), Some(33));
    // US$ 1.00 for 1.5 ct: 66.67.
    assert_eq!(usd_per_carat_cents(100, 1_500), Some(67));
    // Exactly half a cent rounds up: 0.01 for 2 ct is 0.5 cents per carat.
    assert_eq!(usd_per_carat_cents(1, 2_000), Some(1));
    assert_eq!(usd_per_carat_cents(u64::MAX, 1), None);
}
