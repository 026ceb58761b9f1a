//! The increments one block yields, from blocks the test world builds with
//! chosen times.

use super::*;
use crate::model::Role;
use crate::testkit::{code, World, START_TIME};
use crate::tx::Body;
use crate::units::{day_of, SECONDS_PER_DAY};
use kp_crypto::PublicKey;

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

/// A world with a miner and an exporter in Botswana and an importer in
/// the EU.
fn shipping_world() -> (World, PublicKey, PublicKey, PublicKey) {
    let mut world = World::new();
    let miner = world.enrol("BW", "miner", Role::Miner, None);
    let exporter = world.enrol("BW", "exporter", Role::Exporter, None);
    let importer = world.enrol("EU", "importer", Role::Importer, None);
    (world, miner, exporter, importer)
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
    let (mut world, miner, exporter, importer) = shipping_world();
    let a = world.register(&miner, "BW", 1_000);
    let b = world.register(&miner, "BW", 2_000);
    world.hand_over(&miner, a, &exporter);
    world.hand_over(&miner, b, &exporter);
    // Declared above the parcels' recorded US$ 420: both sides count it.
    let shipment = issue("BW-1", exporter, importer, "EU", vec![a, b], Some(60_000));
    let authority = world.authority("BW");
    let tx = world.sign(&authority, shipment);
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
    let of_one_origin = Tally {
        certificates: 1,
        ..exported
    };
    assert_eq!(
        issued.into_iter().collect::<Vec<_>>(),
        [
            (key("BW", 1, Flow::Exports, Some("EU"), None), issued_one),
            (
                key("BW", 1, Flow::Exports, Some("EU"), Some(HsCode::UNSORTED)),
                exported
            ),
            (
                key("BW", 1, Flow::ExportsByOrigin, Some("BW"), None),
                of_one_origin
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
            (
                key("EU", 2, Flow::ImportsByOrigin, Some("BW"), None),
                of_one_origin
            ),
        ]
    );
}

/// The body issuing certificate `number` for `parcels` to `to`, of HS
/// code 7102.10, at the parcels' recorded value unless one is declared.
fn issue(
    number: &str,
    exporter: PublicKey,
    importer: PublicKey,
    to: &str,
    parcels: Vec<crate::model::ParcelId>,
    value_cents: Option<u64>,
) -> Body {
    Body::IssueCertificate {
        number: number.into(),
        exporter,
        importer,
        destination: code(to),
        parcels,
        hs_codes: vec![HsCode::UNSORTED],
        expires_on: day_of(Q2) + 30,
        value_cents,
    }
}

#[test]
fn a_mixed_origin_certificate_is_broken_down_by_origin_to_the_cent() {
    let mut world = World::new();
    let bw_miner = world.enrol("BW", "bw miner", Role::Miner, None);
    let bw_importer = world.enrol("BW", "bw importer", Role::Importer, None);
    let exporter = world.enrol("BW", "bw exporter", Role::Exporter, None);
    let za_miner = world.enrol("ZA", "za miner", Role::Miner, None);
    let za_exporter = world.enrol("ZA", "za exporter", Role::Exporter, None);
    let importer = world.enrol("EU", "eu importer", Role::Importer, None);
    let (bw, za, eu) = (
        world.authority("BW"),
        world.authority("ZA"),
        world.authority("EU"),
    );
    // ZA ships its parcel to BW, where it is merged with a BW one: mixed
    // origin, 1 ct of BW and 2 ct of ZA; a second BW parcel of 0.5 ct.
    let from_za = world.register(&za_miner, "ZA", 2_000);
    world.hand_over(&za_miner, from_za, &za_exporter);
    world.ok(
        &za,
        issue("ZA-1", za_exporter, bw_importer, "BW", vec![from_za], None),
    );
    let receive_za = Body::ReceiveCertificate {
        number: "ZA-1".into(),
        milli_carats: 2_000,
        parcel_count: 1,
    };
    world.ok(&bw, receive_za);
    world.hand_over(&bw_importer, from_za, &exporter);
    let [mined, other] = [1_000, 500].map(|mc| world.register(&bw_miner, "BW", mc));
    world.hand_over(&bw_miner, mined, &exporter);
    world.hand_over(&bw_miner, other, &exporter);
    let merge = Body::MergeParcels {
        parcels: vec![mined, from_za],
    };
    let merged = world.ok(&exporter, merge).created[0];
    assert!(world.parcel(&merged).is_mixed_origin());

    // US$ 1000.00 over 3.5 ct: BW's 1.5 ct are worth 428.571..., ZA's 2 ct
    // 571.428...; the cent left over goes to the larger remainder, ZA's.
    let shipment = issue(
        "BW-2",
        exporter,
        importer,
        "EU",
        vec![merged, other],
        Some(100_000),
    );
    let tx = world.sign(&bw, shipment);
    let issued = block(&mut world, Q1, vec![tx]);
    let whole = Tally {
        milli_carats: 3_500,
        value_cents: 100_000,
        parcels: 2,
        ..Tally::default()
    };
    let of_bw = Tally {
        milli_carats: 1_500,
        value_cents: 42_857,
        parcels: 2,
        certificates: 1,
        ..Tally::default()
    };
    let of_za = Tally {
        milli_carats: 2_000,
        value_cents: 57_143,
        parcels: 1,
        certificates: 1,
        ..Tally::default()
    };
    let by_origin = |increments: &BTreeMap<StatsKey, Tally>, flow| {
        increments
            .iter()
            .filter(|(k, _)| k.flow == flow)
            .map(|(k, t)| (k.partner.map(|p| p.to_string()), *t))
            .collect::<Vec<_>>()
    };
    let expected = [
        (Some("BW".to_owned()), of_bw),
        (Some("ZA".to_owned()), of_za),
    ];
    assert_eq!(by_origin(&issued, Flow::ExportsByOrigin), expected);
    assert_eq!(
        issued.get(&key(
            "BW",
            1,
            Flow::Exports,
            Some("EU"),
            Some(HsCode::UNSORTED)
        )),
        Some(&whole),
        "the exporter's own lines count the certificate whole"
    );

    // Received in the EU: the same breakdown, for the importer.
    let receive = Body::ReceiveCertificate {
        number: "BW-2".into(),
        milli_carats: 3_500,
        parcel_count: 2,
    };
    let tx = world.sign(&eu, receive);
    let received = block(&mut world, Q2, vec![tx]);
    assert_eq!(by_origin(&received, Flow::ImportsByOrigin), expected);
}

#[test]
fn a_certificate_whose_origins_do_not_weigh_its_parcels_is_refused() {
    let (mut world, miner, exporter, importer) = shipping_world();
    let parcel = world.register(&miner, "BW", 1_000);
    world.hand_over(&miner, parcel, &exporter);
    let authority = world.authority("BW");
    let tx = world.sign(
        &authority,
        issue("BW-1", exporter, importer, "EU", vec![parcel], None),
    );
    world.time = Q1;
    let (applied, rejected) = world.commit_block(vec![tx]);
    assert!(rejected.is_empty(), "{rejected:?}");
    let mut delta = applied.delta;
    for cert in delta.certificates.values_mut() {
        cert.origins[0].milli_carats -= 1;
    }
    assert_eq!(
        block_increments(applied.block.header.height, Q1, &delta),
        Err(StatsError::OriginsDoNotAddUp {
            certificate: "BW-1".into(),
            origins_milli_carats: 999,
            parcels_milli_carats: 1_000,
        })
    );
}

#[test]
fn figures_at_the_limits_of_parcels_add_up_exactly_and_totals_stop_at_the_most_a_u64_holds() {
    use crate::rules::{MILLI_CARATS_MAX, VALUE_CENTS_MAX};

    let (mut world, miner, exporter, importer) = shipping_world();
    let count = 3u64;
    let parcels: Vec<_> = (0..count)
        .map(|_| {
            let body = register("BW", MILLI_CARATS_MAX, VALUE_CENTS_MAX, HsCode::UNSORTED);
            world.ok(&miner, body).created[0]
        })
        .collect();
    for p in &parcels {
        world.hand_over(&miner, *p, &exporter);
    }
    let authority = world.authority("BW");
    let tx = world.sign(
        &authority,
        issue("BW-1", exporter, importer, "EU", parcels.clone(), None),
    );
    let issued = block(&mut world, Q1, vec![tx]);
    let exported = Tally {
        milli_carats: count * MILLI_CARATS_MAX,
        value_cents: count * VALUE_CENTS_MAX,
        parcels: count,
        ..Tally::default()
    };
    assert_eq!(
        issued[&key("BW", 1, Flow::Exports, Some("EU"), Some(HsCode::UNSORTED))],
        exported
    );
    assert_eq!(
        issued[&key("BW", 1, Flow::ExportsByOrigin, Some("BW"), None)],
        Tally {
            certificates: 1,
            ..exported
        }
    );

    // A running total never wraps: past the most a u64 holds, it stays
    // there, so that no block fails to commit for its statistics.
    let mut total = Tally {
        milli_carats: u64::MAX - 1,
        value_cents: u64::MAX,
        ..Tally::default()
    };
    total += exported;
    assert_eq!(
        (total.milli_carats, total.value_cents),
        (u64::MAX, u64::MAX)
    );
    assert_eq!(total.parcels, count);
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
